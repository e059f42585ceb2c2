"""PRID-2011 multi-shot reader with the two published person protocols.

Layout: `<root>/prid_2011/multi_shot/cam_{a,b}/person_NNNN/NNNN.png` (`root` may also be the
`prid_2011` folder). cam_a -> camid 0 (probe), cam_b -> camid 1 (gallery).

Protocols (recorded in the report):
- `paper200`: the first 200 person ids present in both cameras, as the AMOC paper states.
- `standard178`: of those, persons with more than 21 frames (>= 22) in both cameras: the rule of
  the standard splits (Wang et al. DVR, reused by McLaughlin et al.). The 10 standard splits in
  splits_prid2011.json cover 178 persons, all with id <= 200, consistent with this rule; the
  splits loader checks the exact set against the index.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import pandas as pd

from amoc.data.index import SkipReport, make_index, paired_rows, scan_camera
from amoc.data.layout import find_layout_dir
from amoc.errors import ConfigError

log = logging.getLogger(__name__)

CAMERAS = ("cam_a", "cam_b")
PERSON_RE = re.compile(r"person_(\d+)")
PAPER_PERSONS = 200
STANDARD_MIN_FRAMES = 22
PROTOCOLS = ("paper200", "standard178")


def find_multishot_dir(root: str | os.PathLike) -> Path:
    """Locate `prid_2011/multi_shot` under `root`; the error says where the data must go."""
    return find_layout_dir(root, ("prid_2011", "multi_shot"), CAMERAS, "prid2011", "person_0001")


def _protocol_pids(cameras: list, protocol: str, report: SkipReport) -> list[int]:
    """Persons of the protocol; persons left out by the protocol itself are counted, not warned."""
    both = sorted(set(cameras[0]) & set(cameras[1]))
    one_camera = len(set(cameras[0]) ^ set(cameras[1]))
    pids = both[:PAPER_PERSONS]
    if protocol == "standard178":
        short = [p for p in pids if min(len(c[p][1]) for c in cameras) < STANDARD_MIN_FRAMES]
        for pid in short:
            report.skip(f"person {pid}", cameras[0][pid][0],
                        f"standard178: fewer than {STANDARD_MIN_FRAMES} frames in a camera")
        pids = [p for p in pids if p not in set(short)]
    report.extra["protocol_excluded"] = {"one_camera": one_camera,
                                         "beyond_first_200": len(both) - len(both[:PAPER_PERSONS])}
    log.info("prid2011 %s: %d persons; excluded by protocol: %s", protocol, len(pids),
             report.extra["protocol_excluded"])
    return pids


def read_prid2011(root: str | os.PathLike, protocol: str = "paper200", min_frames: int = 1
                  ) -> pd.DataFrame:
    """Index PRID-2011 multi-shot under `protocol` ("paper200" or "standard178")."""
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown prid2011 protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")
    if min_frames < 1:
        raise ConfigError(f"min_frames must be >= 1, got {min_frames}")
    base = find_multishot_dir(root)
    report = SkipReport("prid2011", options={"root": str(base.parent), "protocol": protocol,
                                             "min_frames": min_frames})
    cameras = [scan_camera(base / c, c, PERSON_RE, report) for c in CAMERAS]
    pids = _protocol_pids(cameras, protocol, report)
    return make_index(paired_rows("prid2011", cameras, pids, min_frames, report), report)
