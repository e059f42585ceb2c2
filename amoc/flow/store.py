"""Offline optical flow for a whole frame cache: `python -m amoc.flow.store`.

Flow is computed once per (dataset, method) so training never pays for it. Row i of `flow.npy`
is the flow from frame i to i+1 of the same tracklet, computed at 128x64, area-resized to 64x32
and halved (pixels of the 64x32 grid); the last row of every tracklet is zero.

Resumable: rows go into `flow.partial.npy` and a per-tracklet done-marker array, synced in that
order, so a killed job resumes without recomputing finished tracklets. Frames are read and rows
written with plain file I/O, not memory maps, so the peak resident set stays bounded. Parallel over tracklets
with a thread pool (OpenCV releases the GIL); one job per store is enough (MARS with `epic` is
~1.2 M pairs x 8 ms / threads), so there is no sharding: a Snakemake rule just sets `threads`.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path

import cv2
import numpy as np

from amoc.atomic import disk_full_error, is_disk_full, write_json_atomic
from amoc.cli import run_command
from amoc.data.cache import FrameCache
from amoc.errors import DatasetError
from amoc.flow.layout import (
    FLOW_DTYPE,
    FLOW_FILE,
    FLOW_GRID,
    META_FILE,
    ROW_SHAPE,
    FlowStore,
    index_fingerprint,
)
from amoc.flow.methods import FLOW_METHODS, compute_flow, method_parameters
from amoc.flow.partial import PARTIAL_FLOW, ROW_BYTES, PartialStore
from amoc.flow.truth import GROUND_TRUTH, ground_truth_rows
from amoc.plugins.flow import register_flow_plugin

__all__ = ["FlowStore", "build_flow_store", "downsample_flow", "main", "tracklet_flow"]

log = logging.getLogger(__name__)
UNITS = "pixels of the 64x32 grid (u = x right, v = y down), flow from frame t to t+1"


def downsample_flow(flow: np.ndarray) -> np.ndarray:
    """(128, 64, 2) flow in 128x64 pixels -> (64, 32, 2) in 64x32 pixels (area mean, halved)."""
    height, width = FLOW_GRID
    return cv2.resize(flow, (width, height), interpolation=cv2.INTER_AREA) * 0.5


def tracklet_flow(method: str, frames: np.ndarray) -> np.ndarray:
    """Stored rows for one tracklet: float32 (n, 64, 32, 2); the last row stays zero."""
    rows = np.zeros((len(frames), *ROW_SHAPE), np.float32)
    for t in range(len(frames) - 1):
        rows[t] = downsample_flow(compute_flow(method, frames[t], frames[t + 1]))
    return rows


def _compute_one(cache: FrameCache, method: str, i: int, dataset: str) -> np.ndarray:
    """float16 rows of tracklet `i`; DatasetError naming it if any value is NaN or inf."""
    if method == GROUND_TRUTH:
        rows = ground_truth_rows(cache.index.loc[i]).astype(FLOW_DTYPE)
    else:
        rows = tracklet_flow(method, cache.read_sequence(i)).astype(FLOW_DTYPE)
    if not np.isfinite(rows).all():
        name = cache.index.at[i, "tracklet"]
        raise DatasetError(f"flow method {method!r} gave NaN/inf on dataset {dataset!r}, tracklet "
                           f"{name!r}; check its frames in the cache or choose another method")
    return rows


def _run_pool(cache: FrameCache, method: str, partial: PartialStore, threads: int) -> int:
    """Compute every tracklet not yet done; return how many frame pairs were computed."""
    dataset = str(cache.index["dataset"].iloc[0])
    offsets = cache.index["offset"].to_numpy()
    todo = partial.pending()
    n_pairs = int(sum(max(0, int(cache.index.at[i, "n_frames"]) - 1) for i in todo))

    def work(i: int) -> int:
        rows = _compute_one(cache, method, i, dataset)
        partial.write_rows(int(offsets[i]), rows)
        return i

    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = {pool.submit(work, int(i)) for i in todo}
        while futures:
            finished, futures = wait(futures, timeout=10.0, return_when=FIRST_EXCEPTION)
            partial.mark_done([f.result() for f in finished if f.exception() is None])
            failed = [f for f in finished if f.exception() is not None]
            if failed:
                pool.shutdown(cancel_futures=True)
                raise failed[0].exception()
            log.info("%s/%s: %d / %d tracklets done", dataset, method, partial.n_done(),
                     len(cache))
    return n_pairs


def _meta(cache: FrameCache, method: str, threads: int, seconds: float, n_pairs: int) -> dict:
    return {
        "dataset": str(cache.index["dataset"].iloc[0]), "method": method,
        "parameters": store_parameters(method), "units": UNITS, "grid": list(FLOW_GRID),
        "computed_at": [128, 64], "resize": "INTER_AREA then x0.5", "dtype": "float16",
        "n_frames": len(cache.frames), "n_tracklets": len(cache),
        "index_sha256": index_fingerprint(cache.index), "opencv": cv2.__version__,
        "timing": {"seconds": round(seconds, 3), "pairs_computed": n_pairs, "threads": threads,
                   "wall_ms_per_pair": round(1000 * seconds / max(1, n_pairs), 3)},
    }


def store_parameters(method: str) -> dict:
    """What a store of `method` was made with; ConfigError for an unknown method."""
    if method == GROUND_TRUTH:
        return {"source": "synthwalk ground truth (amoc.flow.truth)"}
    return method_parameters(method)


def _check_space(folder: Path, n_bytes: int) -> None:
    """Refuse early rather than fail with ENOSPC after hours of computing. The rows file is
    sparse, so a resumed partial still needs what it has not written yet."""
    partial = folder / PARTIAL_FLOW
    if partial.is_file():
        n_bytes = max(0, n_bytes - partial.stat().st_blocks * 512)
    free = shutil.disk_usage(folder).free
    if free < n_bytes * 1.05:
        raise DatasetError(f"{folder}: the flow store needs {n_bytes / 2**30:.2f} GiB more but "
                           f"only {free / 2**30:.2f} GiB are free; free space or choose another "
                           "--out")


def _compute(cache: FrameCache, method: str, partial: PartialStore, threads: int) -> int:
    """Run the pool with OpenCV single-threaded. If anything fails the partial is closed, and
    removed when no tracklet was finished (a method failing on its first pair leaves no
    store-sized file behind)."""
    previous_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)  # parallelism comes from the pool; avoid oversubscription
    try:
        return _run_pool(cache, method, partial, threads)
    except BaseException:
        partial.close()
        if partial.n_done() == 0:
            PartialStore.remove(partial.dir)
        raise
    finally:
        cv2.setNumThreads(previous_threads)


def build_flow_store(
    cache_dir: str | os.PathLike, method: str, out_dir: str | os.PathLike, threads: int = 1
) -> Path:
    """Compute (or resume) the flow store of a frame cache with a named method; return its path."""
    store_parameters(method)
    cache, out_dir, threads = FrameCache(cache_dir), Path(out_dir), max(1, threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in (out_dir / FLOW_FILE, out_dir / META_FILE):
        stale.unlink(missing_ok=True)  # never leave an old store looking complete
    started = time.perf_counter()
    key = {"method": method, "parameters": store_parameters(method),
           "index_sha256": index_fingerprint(cache.index), "n_frames": len(cache.frames)}
    n_bytes = len(cache.frames) * ROW_BYTES
    _check_space(out_dir, n_bytes)
    try:
        partial = PartialStore.open(out_dir, key, n_rows=len(cache.frames),
                                    n_tracklets=len(cache))
        n_pairs = _compute(cache, method, partial, threads)
    except OSError as err:
        if is_disk_full(err):
            raise disk_full_error(out_dir / PARTIAL_FLOW, n_bytes) from err
        raise
    seconds = time.perf_counter() - started
    meta = _meta(cache, method, threads, seconds, n_pairs)
    partial.finalize(lambda: write_json_atomic(out_dir / META_FILE, meta), out_dir / FLOW_FILE)
    log.info("flow store %s: %d frames, %d pairs in %.1f s (%.2f ms/pair, %d threads)", out_dir,
             meta["n_frames"], n_pairs, seconds, meta["timing"]["wall_ms_per_pair"], threads)
    return out_dir


def main(argv: list[str] | None = None) -> int:
    """`python -m amoc.flow.store --cache DIR --method NAME --out DIR [--threads N]`."""
    parser = argparse.ArgumentParser(prog="amoc flow", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", required=True, help="frame cache folder (amoc.data.cache)")
    parser.add_argument("--method", required=True,
                        help=f"one of {sorted(FLOW_METHODS)}, {GROUND_TRUTH!r} or a plug-in")
    parser.add_argument("--out", required=True,
                        help="store folder, results/flow/{dataset}/{method}")
    parser.add_argument("--threads", type=int, default=1, help="tracklets computed in parallel")
    parser.add_argument("--plugin", help="pkg.module:function computing METHOD (a plug-in)")
    args = parser.parse_args(argv)
    if args.plugin:
        register_flow_plugin(args.method, args.plugin)
    build_flow_store(args.cache, args.method, args.out, threads=args.threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_command(main))
