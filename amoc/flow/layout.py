"""File layout of a flow store and its validated reader, `FlowStore`.

A store is a folder `results/flow/{dataset}/{method}/` holding `flow.npy`, float16
(N, 64, 32, 2) aligned row-for-row with the frame cache, and `meta.json`. `flow.npy` is renamed
into place last, so its presence means the store is complete.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from amoc.errors import DatasetError

FLOW_FILE = "flow.npy"
META_FILE = "meta.json"
FLOW_GRID = (64, 32)  # (H, W) of stored flow: the 128x64 frames halved, Pred3's grid
FLOW_DTYPE = np.float16
ROW_SHAPE = (*FLOW_GRID, 2)
CHECK_ROWS = 4096  # rows per finiteness check: 32 MiB of float16 at a time


def index_fingerprint(index: pd.DataFrame) -> str:
    """SHA-256 of the tracklet names, offsets and lengths: equal iff rows align with the cache.

    Consumers compare `FlowStore(d).meta["index_sha256"]` with this for their frame cache.
    """
    digest = hashlib.sha256()
    digest.update("\n".join(index["tracklet"].astype(str)).encode())
    digest.update(index["offset"].to_numpy(dtype=np.int64).tobytes())
    digest.update(index["n_frames"].to_numpy(dtype=np.int64).tobytes())
    return digest.hexdigest()


def first_nonfinite_row(rows: np.ndarray) -> int | None:
    """Index of the first row of `rows` holding NaN or inf, checked in bounded chunks; else None."""
    for start in range(0, len(rows), CHECK_ROWS):
        chunk = np.asarray(rows[start : start + CHECK_ROWS])
        bad = ~np.isfinite(chunk.reshape(len(chunk), -1)).all(axis=1)
        if bad.any():
            return start + int(np.argmax(bad))
    return None


class FlowStore:
    """Read-only, validated view of a finished flow store: `.flow` (memmap) and `.meta`.

    Opening checks the shape against meta.json and, unless `check_finite=False`, that every
    value is finite (one pass over the file in chunks; skip it only for stores checked before).
    """

    def __init__(self, directory: str | os.PathLike, check_finite: bool = True) -> None:
        self.dir = Path(directory)
        flow_path, meta_path = self.dir / FLOW_FILE, self.dir / META_FILE
        if not flow_path.is_file() or not meta_path.is_file():
            raise DatasetError(f"{self.dir}: no complete flow store ({FLOW_FILE} and {META_FILE} "
                               "needed); compute it with python -m amoc.flow.store")
        self.meta = json.loads(meta_path.read_text())
        try:
            self.flow = np.load(flow_path, mmap_mode="r")
        except ValueError as err:
            raise DatasetError(f"{flow_path}: unreadable ({err}); recompute the store") from err
        self._validate(check_finite)

    def _validate(self, check_finite: bool) -> None:
        where = self.dir / FLOW_FILE
        expected = (int(self.meta.get("n_frames", -1)), *ROW_SHAPE)
        if self.flow.dtype != FLOW_DTYPE or self.flow.shape != expected:
            raise DatasetError(f"{where}: expected float16 {expected} per {META_FILE}, got "
                               f"{self.flow.dtype} {self.flow.shape}; recompute the store")
        bad = first_nonfinite_row(self.flow) if check_finite else None
        if bad is not None:
            raise DatasetError(f"{where}: row {bad} (frame-cache row of dataset "
                               f"{self.meta.get('dataset')!r}) holds NaN/inf; recompute the store")

    def __len__(self) -> int:
        return len(self.flow)

    def rows(self, offset: int, count: int) -> np.ndarray:
        """Flow rows of one tracklet, float16 (count, 64, 32, 2), a memmap view."""
        return self.flow[offset : offset + count]
