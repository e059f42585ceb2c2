"""iLIDS-VID reader (also used for synthwalk, which the generator writes in the same layout).

Layout: `<root>/i-LIDS-VID/sequences/cam{1,2}/personNNN/cam1_personNNN_XXXXX.png`; `root` may be
the `i-LIDS-VID` folder itself or its parent. cam1 -> camid 0 (probe), cam2 -> camid 1 (gallery).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from amoc.data.index import SkipReport, make_index, paired_rows, scan_camera
from amoc.data.layout import find_layout_dir
from amoc.errors import ConfigError

FOLDER = "i-LIDS-VID"
CAMERAS = ("cam1", "cam2")
PERSON_RE = re.compile(r"person(\d+)")


def find_sequences_dir(root: str | os.PathLike, dataset: str = "ilidsvid") -> Path:
    """Locate `i-LIDS-VID/sequences` under `root`; the error says where the data must go."""
    return find_layout_dir(root, (FOLDER, "sequences"), CAMERAS, dataset, "person001")


def read_ilidsvid(root: str | os.PathLike, min_frames: int = 1, dataset: str = "ilidsvid"
                  ) -> pd.DataFrame:
    """Index iLIDS-VID (300 persons x 2 cameras); `dataset` names the rows (e.g. "synthwalk")."""
    if min_frames < 1:
        raise ConfigError(f"min_frames must be >= 1, got {min_frames}")
    sequences_dir = find_sequences_dir(root, dataset)
    report = SkipReport(dataset, options={"root": str(sequences_dir.parent),
                                          "min_frames": min_frames})
    cameras = [scan_camera(sequences_dir / c, c, PERSON_RE, report) for c in CAMERAS]
    # Standard split files index the sorted cam1 person folders, empty or skipped ones included.
    folders = (p.name for p in (sequences_dir / CAMERAS[0]).iterdir() if p.is_dir())
    report.extra["probe_persons_on_disk"] = sorted(int(PERSON_RE.fullmatch(n)[1]) for n in folders)
    pids = sorted(set(cameras[0]) | set(cameras[1]))
    return make_index(paired_rows(dataset, cameras, pids, min_frames, report), report)
