"""Frame cache: every frame decoded once into one uint8 `frames.npy` (N, 128, 64, 3).

The array is written with plain file writes (the `.npy` header, then each decoded batch in order),
never through a writable memory map, so both private memory and the peak resident set stay
bounded even for MARS (1.2 M frames, ~29 GB on disk): written pages are page cache, not mapped
into the process, so Snakemake's `max_rss` and SLURM's accounting do not grow with the cache.
The cache is built in a hidden temporary folder renamed into place at the end: a killed build
never leaves a folder that looks complete.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import chain, islice
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
import pandas as pd

from amoc.atomic import temporary_folder, write_json_atomic
from amoc.cli import run_command
from amoc.data.frames import read_frame
from amoc.data.index import read_index, validate_index, write_index
from amoc.errors import DatasetError

log = logging.getLogger(__name__)

FRAME_SHAPE = (128, 64, 3)
BATCH = 512  # frames decoded per batch: bounds memory at ~BATCH x 24 KiB plus decoder buffers
FILES = ("frames.npy", "index.parquet", "cache.json")
RESIZED_EXAMPLES = 5  # resized frames named in the log and cache.json


def _decode(path: str) -> tuple[np.ndarray, tuple[int, int] | None]:
    """Decode one frame, resized to 128x64 (INTER_AREA) if needed; (frame, original (H, W) or None)."""
    image = read_frame(path)
    if image.shape == FRAME_SHAPE:
        return image, None
    height, width = FRAME_SHAPE[:2]
    resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return resized, (int(image.shape[0]), int(image.shape[1]))


def load_frame(path: str) -> tuple[np.ndarray, bool]:
    """Decode one frame and resize it to 128x64 (INTER_AREA) if needed; say whether it was."""
    image, original = _decode(path)
    return image, original is not None


def _batches(paths: Iterable[str]) -> Iterator[list[str]]:
    iterator = iter(paths)
    while batch := list(islice(iterator, BATCH)):
        yield batch


def _write_frames(fh: BinaryIO, n_frames: int, paths: Iterable[str], threads: int
                  ) -> tuple[int, list[dict]]:
    """Decode `paths` with a thread pool and append them to `fh` batch by batch, in order.

    Returns (number resized, the first RESIZED_EXAMPLES resized frames as {path, size}).
    """
    n_resized, row, next_report, examples = 0, 0, n_frames // 10, []
    buffer = np.empty((BATCH, *FRAME_SHAPE), np.uint8)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for batch in _batches(paths):
            for k, (path, (image, original)) in enumerate(zip(batch, pool.map(_decode, batch),
                                                               strict=True)):
                buffer[k] = image
                if original is not None:
                    n_resized += 1
                    if len(examples) < RESIZED_EXAMPLES:
                        examples.append({"path": path, "size": list(original)})
            fh.write(memoryview(buffer[:len(batch)]).cast("B"))  # in order, no copy
            row += len(batch)
            if row >= next_report:
                log.info("decoded %d / %d frames", row, n_frames)
                next_report += max(1, n_frames // 10)
    if row != n_frames:
        raise DatasetError(f"the index lists {n_frames} frames in n_frames but {row} frame paths; "
                           "rebuild the index")
    return n_resized, examples


def _check_space(folder: Path, n_bytes: int) -> None:
    """Refuse early rather than fail with ENOSPC after hours of decoding."""
    free = shutil.disk_usage(folder).free
    if free < n_bytes * 1.05:
        raise DatasetError(f"{folder}: the frame cache needs {n_bytes / 2**30:.2f} GiB but only "
                           f"{free / 2**30:.2f} GiB are free; free space or choose another --out")


def _remove_stale(out_dir: Path) -> None:
    """Remove temporary folders left by killed builds of the same cache."""
    for pattern in (f".{out_dir.name}.tmp-*", f".{out_dir.name}.old-*"):
        for stale in sorted(out_dir.parent.glob(pattern)):
            log.warning("removing leftover of an interrupted cache build: %s", stale)
            shutil.rmtree(stale, ignore_errors=True)


def _swap_in(tmp: Path, out_dir: Path) -> None:
    """Rename the finished temporary folder onto `out_dir`, replacing an older cache."""
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        os.rename(out_dir, old)
        os.rename(tmp, out_dir)
        shutil.rmtree(old)
    else:
        os.rename(tmp, out_dir)


def _write_npy_header(fh: BinaryIO, shape: tuple[int, ...]) -> None:
    """The header np.save / open_memmap would write for a C-order uint8 array of `shape`."""
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "fortran_order": False,
              "shape": shape}
    try:
        np.lib.format.write_array_header_1_0(fh, header)
    except ValueError:  # header over 64 KiB: never for 4-d shapes, but mirror numpy's fallback
        np.lib.format.write_array_header_2_0(fh, header)


def _write_contents(index: pd.DataFrame, tmp: Path, threads: int) -> dict:
    """Write frames.npy, index.parquet (with offset) and cache.json inside `tmp`."""
    counts = index["n_frames"].to_numpy(dtype=np.int64)
    shape = (int(counts.sum()), *FRAME_SHAPE)
    with open(tmp / "frames.npy", "wb") as fh:
        _write_npy_header(fh, shape)
        n_resized, examples = _write_frames(fh, shape[0], chain.from_iterable(index["frame_paths"]),
                                            threads)
        fh.flush()
        os.fsync(fh.fileno())
    if n_resized:
        log.info("resized %d of %d frames to 128x64 (INTER_AREA), e.g. %s", n_resized, shape[0],
                 "; ".join(f"{e['path']} ({e['size'][0]}x{e['size'][1]})" for e in examples))
    indexed = index.copy()
    indexed["offset"] = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    write_index(indexed, tmp / "index.parquet")
    report = index.attrs.get("report", {})
    meta = {
        "dataset": str(index["dataset"].iloc[0]), "shape": list(shape), "dtype": "uint8",
        "bytes": int(np.prod(shape)), "n_frames": shape[0], "n_tracklets": len(index),
        "n_resized": n_resized, "resized_examples": examples, "skipped": report.get("skipped", []),
        "skipped_counts": report.get("skipped_counts", {}), "report": report,
    }
    write_json_atomic(tmp / "cache.json", meta)
    return meta


def build_cache(index: pd.DataFrame, out_dir: str | os.PathLike, threads: int = 4) -> Path:
    """Decode every frame of `index` once into a cache folder at `out_dir`; return its path."""
    validate_index(index)
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(out_dir)
    _check_space(out_dir.parent, int(index["n_frames"].sum()) * int(np.prod(FRAME_SHAPE)))
    started = time.perf_counter()
    tmp = temporary_folder(out_dir.parent, f".{out_dir.name}.tmp-")
    try:
        meta = _write_contents(index, tmp, max(1, threads))
        _swap_in(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("frame cache %s: %d frames, %.1f MiB (%d resized) in %.1f s", out_dir,
             meta["n_frames"], meta["bytes"] / 2**20, meta["n_resized"],
             time.perf_counter() - started)
    return out_dir


class FrameCache:
    """Read-only view of a built cache: `.index` (with offset), `.frames` (memmap), `.sequence(i)`."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.dir = Path(directory)
        for name in FILES:
            if not (self.dir / name).is_file():
                raise DatasetError(f"{self.dir / name}: missing, the frame cache is incomplete; "
                                   "rebuild it with python -m amoc.data.cache")
        self.meta = json.loads((self.dir / "cache.json").read_text())
        self.index = read_index(self.dir / "index.parquet")
        try:
            self.frames = np.load(self.dir / "frames.npy", mmap_mode="r")
        except ValueError as err:
            raise DatasetError(f"{self.dir / 'frames.npy'}: unreadable ({err}); rebuild") from err
        self._validate()

    def _validate(self) -> None:
        """The array, cache.json and the index offsets must describe the same frames."""
        where = self.dir / "frames.npy"
        if self.frames.dtype != np.uint8 or self.frames.shape[1:] != FRAME_SHAPE:
            raise DatasetError(f"{where}: expected uint8 (N, 128, 64, 3), got "
                               f"{self.frames.dtype} {self.frames.shape}; rebuild the cache")
        if list(self.frames.shape) != self.meta.get("shape"):
            raise DatasetError(f"{where}: shape {self.frames.shape} disagrees with cache.json "
                               f"{self.meta.get('shape')}; rebuild the cache")
        if "offset" not in self.index.columns:
            raise DatasetError(f"{self.dir / 'index.parquet'}: no offset column; rebuild the cache")
        ends = self.index["offset"].to_numpy() + self.index["n_frames"].to_numpy()
        starts = np.concatenate([[0], ends[:-1]])
        if not (self.index["offset"].to_numpy() == starts).all() or ends[-1] != len(self.frames):
            raise DatasetError(f"{self.dir / 'index.parquet'}: offsets do not tile frames.npy; "
                               "rebuild the cache")

    def __len__(self) -> int:
        return len(self.index)

    def sequence(self, i: int) -> np.ndarray:
        """Frames of tracklet row `i` (positional), uint8 (n_frames, 128, 64, 3), a memmap view."""
        offset, count = self.index.at[i, "offset"], self.index.at[i, "n_frames"]
        return self.frames[offset:offset + count]

    def read_sequence(self, i: int) -> np.ndarray:
        """Frames of tracklet row `i` as a fresh in-memory array, read with plain file I/O.

        For one pass over the whole cache (the flow store): pages read this way are page cache,
        not mapped into the process, so its peak resident set does not grow with the cache.
        """
        offset, count = int(self.index.at[i, "offset"]), int(self.index.at[i, "n_frames"])
        frame_bytes = int(np.prod(FRAME_SHAPE))
        data = np.fromfile(self.frames.filename, dtype=np.uint8, count=count * frame_bytes,
                           offset=int(self.frames.offset) + offset * frame_bytes)
        if data.size != count * frame_bytes:
            raise DatasetError(f"{self.frames.filename}: shorter than its header says; rebuild "
                               "the cache")
        return data.reshape(count, *FRAME_SHAPE)


def main(argv: list[str] | None = None) -> int:
    """`python -m amoc.data.cache --index index.parquet --out DIR [--threads N]`."""
    parser = argparse.ArgumentParser(prog="amoc cache", description=__doc__)
    parser.add_argument("--index", required=True, help="index.parquet from amoc.data.index_cli")
    parser.add_argument("--out", required=True, help="cache folder to create")
    parser.add_argument("--threads", type=int, default=min(8, os.cpu_count() or 1))
    args = parser.parse_args(argv)
    build_cache(read_index(args.index), args.out, threads=args.threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_command(main))
