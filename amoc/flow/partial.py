"""An unfinished flow store that survives being killed: rows plus per-tracklet done markers.

`flow.partial.npy` holds the rows, `done.partial.npy` one uint8 marker per tracklet and
`partial.json` what the rows were computed for. Both `.npy` files are preallocated (header +
zeros) and written with `os.pwrite` at byte offsets, never through a writable memory map, so
nothing written stays mapped and the peak resident set does not grow with the store. Rows are
synced to disk before their markers are set, so a marker always means the tracklet's rows are on
disk. A partial store computed for another method, parameter set or cache is discarded instead
of resumed.
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
ROW_BYTES = int(np.prod(ROW_SHAPE)) * np.dtype(FLOW_DTYPE).itemsize


def create_npy(path: Path, dtype: np.dtype, shape: tuple[int, ...]) -> int:
    """Write a zero-filled C-order `.npy` (sparse) as np.save would; return its data offset."""
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
              "shape": tuple(shape)}
    with open(path, "wb") as fh:
        try:
            np.lib.format.write_array_header_1_0(fh, header)
        except ValueError:  # header over 64 KiB (never for these shapes): numpy's fallback
            np.lib.format.write_array_header_2_0(fh, header)
        offset = fh.tell()
        fh.truncate(offset + int(np.prod(shape)) * np.dtype(dtype).itemsize)
    return offset


def npy_layout(path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, data offset) of a C-order `.npy`; ValueError if it is not one or too short."""
    with open(path, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                else np.lib.format.read_array_header_2_0)
        shape, fortran_order, dtype = read(fh)
        offset = fh.tell()
    if fortran_order:
        raise ValueError(f"{path}: Fortran order")
    if os.path.getsize(path) < offset + int(np.prod(shape)) * dtype.itemsize:
        raise ValueError(f"{path}: shorter than its header says")
    return shape, dtype, offset


class PartialStore:
    """Rows (float16 (N, 64, 32, 2), written with `write_rows`) and done markers (`.done`)."""

    def __init__(self, directory: Path, done: np.ndarray) -> None:
        self.dir, self.done = directory, done
        self.flow_path, self.done_path = directory / PARTIAL_FLOW, directory / PARTIAL_DONE
        self._flow_fd = self._done_fd = -1
        self._flow_offset = npy_layout(self.flow_path)[2]
        self._done_offset = npy_layout(self.done_path)[2]
        self._flow_fd = os.open(self.flow_path, os.O_RDWR)
        self._done_fd = os.open(self.done_path, os.O_RDWR)

    @staticmethod
    def exists(directory: Path) -> bool:
        """Whether `directory` holds a partial store (of any key)."""
        return (directory / PARTIAL_KEY).is_file()

    @classmethod
    def open(cls, directory: Path, key: dict, n_rows: int, n_tracklets: int) -> PartialStore:
        """Resume the partial store in `directory` if it was made for `key`, else start afresh."""
        if cls.exists(directory) and cls._matches(directory, key, n_rows, n_tracklets):
            done = np.load(directory / PARTIAL_DONE)  # n_tracklets bytes, read into memory
            log.info("%s: resuming, %d / %d tracklets already done", directory,
                     int(done.sum()), n_tracklets)
            return cls(directory, done)
        if cls.exists(directory):
            log.warning("%s: discarding a partial flow store made for other settings", directory)
        cls.remove(directory)
        create_npy(directory / PARTIAL_FLOW, FLOW_DTYPE, (n_rows, *ROW_SHAPE))
        create_npy(directory / PARTIAL_DONE, np.uint8, (n_tracklets,))
        write_json_atomic(directory / PARTIAL_KEY, key)  # written last: the other two are ready
        return cls(directory, np.zeros(n_tracklets, np.uint8))

    @staticmethod
    def _matches(directory: Path, key: dict, n_rows: int, n_tracklets: int) -> bool:
        """The stored key equals `key` and both arrays have the expected shapes and dtypes."""
        try:
            stored = json.loads((directory / PARTIAL_KEY).read_text())
            flow_shape, flow_dtype, _ = npy_layout(directory / PARTIAL_FLOW)
            done_shape, done_dtype, _ = npy_layout(directory / PARTIAL_DONE)
        except (OSError, ValueError):
            return False
        return (stored == json.loads(json.dumps(key)) and flow_shape == (n_rows, *ROW_SHAPE)
                and flow_dtype == FLOW_DTYPE and done_shape == (n_tracklets,)
                and done_dtype == np.uint8)

    @staticmethod
    def remove(directory: Path) -> None:
        """Delete the partial files (key first, so a half-deleted store never resumes)."""
        for name in (PARTIAL_KEY, PARTIAL_DONE, PARTIAL_FLOW):
            (directory / name).unlink(missing_ok=True)

    def write_rows(self, start: int, rows: np.ndarray) -> None:
        """Write float16 rows starting at row `start` (thread-safe: positional writes)."""
        data = np.ascontiguousarray(rows, dtype=FLOW_DTYPE)
        if data.shape[1:] != ROW_SHAPE:
            raise ValueError(f"rows of shape {data.shape[1:]}, expected {ROW_SHAPE}")
        view, position = memoryview(data).cast("B"), self._flow_offset + start * ROW_BYTES
        while view:
            written = os.pwrite(self._flow_fd, view, position)
            view, position = view[written:], position + written

    def pending(self) -> np.ndarray:
        """Positional indices of the tracklets without a done marker."""
        return np.flatnonzero(self.done == 0)

    def n_done(self) -> int:
        return int(np.count_nonzero(self.done))

    def mark_done(self, tracklets: Iterable[int]) -> None:
        """Sync the rows to disk, then set and sync the markers of `tracklets`."""
        tracklets = list(tracklets)
        if not tracklets:
            return
        os.fdatasync(self._flow_fd)
        self.done[tracklets] = 1
        os.pwrite(self._done_fd, self.done.tobytes(), self._done_offset)
        os.fdatasync(self._done_fd)

    def close(self) -> None:
        """Close the file descriptors (idempotent)."""
        for name in ("_flow_fd", "_done_fd"):
            fd = getattr(self, name, -1)
            if fd >= 0:
                os.close(fd)
                setattr(self, name, -1)

    def __del__(self) -> None:
        self.close()

    def finalize(self, write_meta: Callable[[], None], flow_path: Path) -> None:
        """Check every tracklet is done, write meta, rename the rows onto `flow_path` (last)."""
        missing = self.pending()
        if len(missing):
            raise RuntimeError(f"{self.dir}: {len(missing)} tracklets not computed; run again")
        os.fsync(self._flow_fd)
        self.close()
        write_meta()
        os.replace(self.flow_path, flow_path)
        self.remove(self.dir)
