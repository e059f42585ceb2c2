"""Reliability: memory stays bounded when the frame cache and a flow store are built for a large
index (each build runs as a CLI subprocess whose memory is sampled from /proc).

Two measures are checked: `RssAnon`, the process's private memory (heap, decode buffers); and
`VmHWM`, the kernel's peak resident set, which also counts file pages mapped into the process
(an output `.npy` written through a writable `np.memmap`, or an input read through one) and is
what `getrusage().ru_maxrss`, Snakemake's `benchmark: max_rss` and SLURM's RSS accounting show.
Both builds use plain file reads and writes, so neither measure grows with the data.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from amoc.data.index import write_index
from amoc.flow.layout import ROW_SHAPE
from tests.faults import amoc_cmd, run_measuring_memory

FRAME_BYTES = 128 * 64 * 3
MB = 2**20
ALLOWANCE = 300 * MB  # interpreter, numpy/cv2/pandas/pyarrow, thread stacks
N_FRAMES = 30_000
PER_TRACKLET = 20


def fake_index(root: Path, n_frames: int, per: int = PER_TRACKLET, n_files: int = 8
               ) -> pd.DataFrame:
    """An index of `n_frames` frames whose paths all point at `n_files` real small PNGs."""
    pngs = []
    for k in range(n_files):
        image = np.random.default_rng(k).integers(0, 256, (128, 64, 3), dtype=np.uint8)
        path = root / "png" / f"{k:05d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), image)
        pngs.append(str(path))
    rows = [{"dataset": "big", "pid": t // 2, "camid": t % 2, "tracklet": f"cam{t % 2}/t{t:06d}",
             "n_frames": per, "frame_paths": [pngs[(t + j) % n_files] for j in range(per)],
             "subset": "all", "is_query": False} for t in range(n_frames // per)]
    return pd.DataFrame(rows).sort_values(["camid", "pid", "tracklet"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def big_cache(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("bigcache")
    write_index(fake_index(root, N_FRAMES), root / "index.parquet")
    result, peaks = run_measuring_memory(
        amoc_cmd("data.cache", "--index", root / "index.parquet", "--out", root / "cache",
                 "--threads", 2))
    assert result.returncode == 0, result.stderr[-3000:]
    return {"root": root, "peaks": peaks, "bytes": N_FRAMES * FRAME_BYTES}


def test_memory_probe_sees_a_peak_shorter_than_its_sampling_interval() -> None:
    """A 200 MiB allocation held for a moment is in VmHWM (the kernel's peak, read at exit),
    even when no 1 s sample could have caught it; the probe's samples are real, not zeros."""
    script = "import time; b = b'x' * (200 * 2**20); del b; time.sleep(0.3)"
    result, peaks = run_measuring_memory([sys.executable, "-c", script], interval=1.0)
    assert result.returncode == 0, result.stderr
    assert peaks["VmHWM"] >= 200 * MB
    assert 0 < peaks["RssAnon"] < 200 * MB  # the one sample came after the free


@pytest.mark.slow
def test_frame_cache_build_keeps_private_memory_bounded(big_cache: dict) -> None:
    meta = json.loads((big_cache["root"] / "cache" / "cache.json").read_text())
    assert meta["n_frames"] == N_FRAMES and meta["bytes"] == big_cache["bytes"]
    peak = big_cache["peaks"]["RssAnon"]
    assert 0 < peak < 0.4 * big_cache["bytes"] + ALLOWANCE, (
        f"private memory peaked at {peak / MB:.0f} MiB for a {big_cache['bytes'] / MB:.0f} MiB "
        "cache")


@pytest.mark.slow
def test_frame_cache_build_keeps_peak_rss_bounded(big_cache: dict) -> None:
    peak = big_cache["peaks"]["VmHWM"]
    assert 0 < peak < 0.4 * big_cache["bytes"] + ALLOWANCE, (
        f"peak RSS {peak / MB:.0f} MiB (private {big_cache['peaks']['RssAnon'] / MB:.0f} MiB) "
        f"for a {big_cache['bytes'] / MB:.0f} MiB cache")


def fake_cache(directory: Path, n_frames: int, per: int = PER_TRACKLET) -> Path:
    """A frame cache per the contract, written directly: moving textures (flow has work to do)."""
    directory.mkdir(parents=True)
    n_tracklets = n_frames // per
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.integers(0, 256, (160, 96, 3), dtype=np.uint8), (5, 5), 0)
    frames = np.lib.format.open_memmap(directory / "frames.npy", mode="w+", dtype=np.uint8,
                                       shape=(n_tracklets * per, 128, 64, 3))
    for t in range(n_tracklets):
        for j in range(per):
            dy, dx = (t + j) % 32, (2 * j + t) % 32
            frames[t * per + j] = texture[dy:dy + 128, dx:dx + 64]
    frames.flush()
    del frames
    index = pd.DataFrame({
        "dataset": "big", "pid": np.arange(n_tracklets, dtype=np.int64) // 2,
        "camid": np.arange(n_tracklets, dtype=np.int64) % 2,
        "tracklet": [f"t{t:06d}" for t in range(n_tracklets)],
        "n_frames": np.full(n_tracklets, per, np.int64),
        "frame_paths": [[f"/fake/{t}/{j}.png" for j in range(per)] for t in range(n_tracklets)],
        "subset": "all", "is_query": False,
        "offset": np.arange(n_tracklets, dtype=np.int64) * per})
    write_index(index, directory / "index.parquet")
    (directory / "cache.json").write_text(json.dumps({"shape": [n_frames, 128, 64, 3]}))
    return directory


def _flow_peaks(root: Path, n_frames: int) -> dict:
    cache = fake_cache(root / f"cache{n_frames}", n_frames)
    result, peaks = run_measuring_memory(
        amoc_cmd("flow.store", "--cache", cache, "--method", "dis", "--out",
                 root / f"flow{n_frames}", "--threads", 2))
    assert result.returncode == 0, result.stderr[-3000:]
    return peaks


@pytest.mark.slow
def test_flow_store_build_keeps_memory_bounded(tmp_path: Path) -> None:
    """Private memory and peak RSS grow by far less than the data when the cache grows 10-fold
    (frames are read and rows written with file I/O: neither stays mapped in the process)."""
    small, large = 400, 4_000
    base, peak = _flow_peaks(tmp_path, small), _flow_peaks(tmp_path, large)
    data = (large - small) * (FRAME_BYTES + int(np.prod(ROW_SHAPE)) * 2)
    for key, what in (("RssAnon", "private memory"), ("VmHWM", "peak RSS")):
        assert base[key] > 0 and peak[key] > 0, (key, base, peak)
        assert peak[key] - base[key] < 0.25 * data, (
            f"{what} {base[key] / MB:.0f} -> {peak[key] / MB:.0f} MiB for {data / MB:.0f} MiB "
            "more frames + flow")
