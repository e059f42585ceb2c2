"""The `gt` flow method: the exact flow synthwalk renders next to its frames.

synthwalk writes `i-LIDS-VID/flow/cam{1,2}/personNNN.npy` beside `i-LIDS-VID/sequences/`
(`amoc.data.synthwalk.generate`), already in the flow store's units and grid, so a `gt` store is
assembled row for row from those files instead of being computed from frame pairs. It exists for
synthwalk only: it is the reference every other method's end-point error is measured against,
and it can also be a pre-training target or an offline flow input like any other method.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from amoc.errors import DatasetError
from amoc.flow.layout import ROW_SHAPE

GROUND_TRUTH = "gt"
TRUTH_DIR = "flow"  # amoc.data.synthwalk.generate.TRUTH_DIR, beside sequences/


def truth_file(tracklet: pd.Series) -> Path:
    """The ground-truth file of a cached tracklet, found from its first frame's path.

    Frames live at `<root>/sequences/camC/personNNN/*.png`; the flow at `<root>/flow/camC/personNNN.npy`.
    """
    first = Path(tracklet["frame_paths"][0])
    return first.parents[2].parent / TRUTH_DIR / f"{tracklet['tracklet']}.npy"


def ground_truth_rows(tracklet: pd.Series) -> np.ndarray:
    """float32 (n_frames, 64, 32, 2) store rows of one tracklet; DatasetError if absent or wrong."""
    path = truth_file(tracklet)
    if not path.is_file():
        raise DatasetError(f"flow method {GROUND_TRUTH!r} needs the ground truth that synthwalk "
                           f"writes; {path} does not exist (dataset {tracklet['dataset']!r}: "
                           "only synthwalk datasets have it; regenerate synthwalk if it is one)")
    rows = np.load(path).astype(np.float32)
    expected = (int(tracklet["n_frames"]), *ROW_SHAPE)
    if rows.shape != expected:
        raise DatasetError(f"{path}: ground-truth flow has shape {rows.shape}, the cached "
                           f"tracklet needs {expected}; regenerate the dataset")
    return rows
