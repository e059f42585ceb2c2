"""A tiny synthetic frame cache + flow store + split, built per the data contracts, for the
training, feature and evaluation tests (imported by them), plus checks that it honours the
contracts (so the other tests exercise the real readers).

Each identity has its own colour layout (separable); each tracklet drifts sideways so the flow
store holds non-zero, known motion; the last row of every tracklet's flow is zero.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from amoc.atomic import write_json_atomic
from amoc.data.cache import FrameCache
from amoc.data.index import write_index
from amoc.errors import DatasetError
from amoc.flow.layout import index_fingerprint
from amoc.models import ModelConfig
from amoc.train.inputs import open_flow

H, W = 128, 64


def _frames(pid: int, camid: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, H, W, 3) uint8: identity colours top/bottom, a moving stripe, a little noise."""
    top = np.array([(pid * 70) % 256, (pid * 130) % 256, (pid * 40 + 90) % 256])
    bottom = np.array([(pid * 30 + 60) % 256, (pid * 90) % 256, (pid * 170) % 256])
    base = np.zeros((H, W, 3))
    base[: H // 2], base[H // 2 :] = top, bottom
    out = np.empty((n, H, W, 3), dtype=np.uint8)
    for t in range(n):
        frame = base.copy()
        col = (4 * t + 10 * camid) % W
        frame[:, col : col + 4] = 255 - frame[:, col : col + 4]
        out[t] = np.clip(frame + rng.normal(0, 8, frame.shape), 0, 255)
    return out


def build_toy(root: Path, n_ids: int = 6, lengths: tuple[int, int] = (10, 16),
              short: dict[tuple[int, int], int] | None = None, seed: int = 0) -> dict[str, Path]:
    """Write cache/, flow/ and split.json under ``root``; return their paths.

    Args:
        n_ids: persons 1..n_ids, each with camera 0 and camera 1; even pids train, odd test.
        lengths: range of tracklet lengths (inclusive).
        short: {(pid, camid): n_frames} overrides (to make short sequences).
    """
    rng = np.random.default_rng(seed)
    rows, frames, flows, offset = [], [], [], 0
    for camid in (0, 1):  # index sorted by (camid, pid, tracklet)
        for pid in range(1, n_ids + 1):
            n = (short or {}).get((pid, camid), int(rng.integers(lengths[0], lengths[1] + 1)))
            frames.append(_frames(pid, camid, n, rng))
            flow = np.zeros((n, H // 2, W // 2, 2), dtype=np.float16)
            flow[:-1, :, :, 0] = 2.0  # the stripe moves 4 px of 64 = 2 px of the 32-wide grid
            flows.append(flow)
            rows.append({"dataset": "toy", "pid": pid, "camid": camid,
                         "tracklet": f"cam{camid + 1}/person{pid:03d}", "n_frames": n,
                         "frame_paths": [f"/toy/{camid}/{pid}/{t:04d}.png" for t in range(n)],
                         "subset": "all", "is_query": False, "offset": offset})
            offset += n
    index = pd.DataFrame(rows)
    paths = {"cache": root / "cache", "flow": root / "flow", "split": root / "split.json"}
    paths["cache"].mkdir(parents=True)
    paths["flow"].mkdir(parents=True)
    all_frames = np.concatenate(frames)
    np.save(paths["cache"] / "frames.npy", all_frames)
    write_index(index, paths["cache"] / "index.parquet")
    write_json_atomic(paths["cache"] / "cache.json", {"dataset": "toy",
                                                      "shape": list(all_frames.shape)})
    np.save(paths["flow"] / "flow.npy", np.concatenate(flows))
    write_json_atomic(paths["flow"] / "meta.json", {"n_frames": len(all_frames),
                                                    "index_sha256": index_fingerprint(index)})
    pids = list(range(1, n_ids + 1))
    paths["split"].write_text(json.dumps({
        "dataset": "toy", "split": 0, "seed": 0, "source": "random",
        "train_pids": [p for p in pids if p % 2 == 0], "test_pids": [p for p in pids if p % 2]}))
    return paths


def tiny_model_config(num_classes: int, variant: str = "amoc_nomotion", **kw) -> dict:
    """A fast model config (plain dict) for tests."""
    cfg = {"num_classes": num_classes, "variant": variant, "embedding": 16, "fc_dim": 16,
           "motion_width": 0.125, "spatial_filters": [4, 8, 8], "dropout": 0.0}
    return {**cfg, **kw}


def test_toy_data_honours_the_contracts(tmp_path: Path) -> None:
    paths = build_toy(tmp_path)
    cache = FrameCache(paths["cache"])
    # The readers the other tests go through accept the toy: its flow store belongs to its cache
    # (and a store built for another cache, here other tracklet lengths, is refused).
    flow = open_flow(cache, paths["flow"], required=True)
    assert flow.shape == (len(cache.frames), 64, 32, 2)
    other = build_toy(tmp_path / "other", seed=1)
    with pytest.raises(DatasetError, match="another frame cache"):
        open_flow(cache, other["flow"], required=True)
    assert cache.sequence(0).shape[1:] == (128, 64, 3)
    lengths = cache.index["n_frames"].to_numpy()
    assert (cache.index["offset"].to_numpy() == np.concatenate([[0], np.cumsum(lengths)[:-1]])).all()
    for i in range(len(cache)):  # last flow row of every tracklet is zero, the others 2 px
        rows = flow[cache.index.at[i, "offset"]:][:lengths[i]]
        assert (rows[-1] == 0).all() and (rows[:-1, ..., 0] == 2).all()
    cfg = ModelConfig.from_dict(tiny_model_config(3))
    assert (cfg.num_classes, cfg.variant, cfg.embedding, cfg.motion_width) == (
        3, "amoc_nomotion", 16, 0.125)
