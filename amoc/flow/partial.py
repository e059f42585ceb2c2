"""An unfinished flow store that survives being killed: rows plus per-tracklet done markers.

`flow.partial.npy` holds the rows (a memmap), `done.partial.npy` one uint8 marker per tracklet and
`partial.json` what the rows were computed for. Rows are flushed before their markers are set,
so a marker always means the tracklet's rows are on disk. A partial store computed for another
method, parameter set or cache is discarded instead of resumed.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from amoc.atomic import write_json_atomic
from amoc.flow.layout import FLOW_DTYPE, ROW_SHAPE

log = logging.getLogger(__name__)

PARTIAL_FLOW = "flow.partial.npy"
PARTIAL_DONE = "done.partial.npy"
PARTIAL_KEY = "partial.json"


class PartialStore:
    """Rows (`.flow`, float16 (N, 64, 32, 2) memmap) and done markers of a store being computed."""

    def __init__(self, directory: Path, flow: np.ndarray, done: np.ndarray) -> None:
        self.dir, self.flow, self.done = directory, flow, done

    @staticmethod
    def exists(directory: Path) -> bool:
        """Whether `directory` holds a partial store (of any key)."""
        return (directory / PARTIAL_KEY).is_file()

    @classmethod
    def open(cls, directory: Path, key: dict, n_rows: int, n_tracklets: int) -> PartialStore:
        """Resume the partial store in `directory` if it was made for `key`, else start afresh."""
        if cls.exists(directory) and cls._matches(directory, key, n_rows, n_tracklets):
            flow = np.load(directory / PARTIAL_FLOW, mmap_mode="r+")
            done = np.load(directory / PARTIAL_DONE, mmap_mode="r+")
            log.info("%s: resuming, %d / %d tracklets already done", directory,
                     int(done.sum()), n_tracklets)
            return cls(directory, flow, done)
        if cls.exists(directory):
            log.warning("%s: discarding a partial flow store made for other settings", directory)
        cls.remove(directory)
        flow = np.lib.format.open_memmap(directory / PARTIAL_FLOW, mode="w+", dtype=FLOW_DTYPE,
                                         shape=(n_rows, *ROW_SHAPE))
        done = np.lib.format.open_memmap(directory / PARTIAL_DONE, mode="w+", dtype=np.uint8,
                                         shape=(n_tracklets,))
        write_json_atomic(directory / PARTIAL_KEY, key)  # written last: the other two are ready
        return cls(directory, flow, done)

    @staticmethod
    def _matches(directory: Path, key: dict, n_rows: int, n_tracklets: int) -> bool:
        """The stored key equals `key` and both arrays open with the expected shapes."""
        try:
            stored = json.loads((directory / PARTIAL_KEY).read_text())
            flow = np.load(directory / PARTIAL_FLOW, mmap_mode="r")
            done = np.load(directory / PARTIAL_DONE, mmap_mode="r")
        except (OSError, ValueError):
            return False
        return (stored == json.loads(json.dumps(key)) and flow.shape == (n_rows, *ROW_SHAPE)
                and flow.dtype == FLOW_DTYPE and done.shape == (n_tracklets,))

    @staticmethod
    def remove(directory: Path) -> None:
        """Delete the partial files (key first, so a half-deleted store never resumes)."""
        for name in (PARTIAL_KEY, PARTIAL_DONE, PARTIAL_FLOW):
            (directory / name).unlink(missing_ok=True)

    def pending(self) -> np.ndarray:
        """Positional indices of the tracklets without a done marker."""
        return np.flatnonzero(self.done == 0)

    def n_done(self) -> int:
        return int(np.count_nonzero(self.done))

    def mark_done(self, tracklets: Iterable[int]) -> None:
        """Flush the rows, then set and flush the markers of `tracklets`."""
        tracklets = list(tracklets)
        if not tracklets:
            return
        self.flow.flush()
        self.done[tracklets] = 1
        self.done.flush()

    def finalize(self, write_meta: Callable[[], None], flow_path: Path) -> None:
        """Check every tracklet is done, write meta, rename the rows onto `flow_path` (last)."""
        missing = self.pending()
        if len(missing):
            raise RuntimeError(f"{self.dir}: {len(missing)} tracklets not computed; run again")
        self.flow.flush()
        partial_path = Path(self.flow.filename)
        del self.flow
        write_meta()
        os.replace(partial_path, flow_path)
        self.remove(self.dir)
