"""End-point error against synthwalk's exact flow, on held-out persons: every offline method,
zero flow, and every pre-trained motion net.

Usage:
    python -m amoc.eval.flow_error --cache DIR --truth STORE --split FILE
        [--methods lk epic ...] [--motion-net TARGET=CKPT ...] [--max-pairs N] --out PREFIX

Writes PREFIX.md and PREFIX.csv. Pairs are every consecutive frame pair of the split's test
persons (both cameras), thinned evenly to at most ``--max-pairs``; pre-training on
``pretrain.persons: train`` never sees them. EPE is in pixels of the 64 x 32 grid (the flow
store's and Pred3's units); "moving" restricts it to pixels whose true flow exceeds
``MOVING_PX`` (limbs, the torso, occluders), where zero flow cannot be right.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from amoc.atomic import write_text_atomic
from amoc.cli import run_command
from amoc.data.cache import FrameCache
from amoc.errors import ConfigError
from amoc.flow.layout import FlowStore
from amoc.flow.methods import FLOW_METHODS, compute_flow
from amoc.flow.store import downsample_flow
from amoc.models import MotionNet, Preprocess, frame_pairs
from amoc.report.render import frame_markdown
from amoc.train.checkpoint import read_checkpoint
from amoc.train.clips import to_unit_float
from amoc.train.inputs import read_split

log = logging.getLogger(__name__)

MOVING_PX = 0.5
BATCH = 64
COLUMNS = ["flow", "kind", "epe", "epe_moving", "ratio_to_zero", "ms_per_pair", "pairs"]


def heldout_pairs(cache: FrameCache, test_pids: list[int], max_pairs: int) -> np.ndarray:
    """First-frame cache rows of the test persons' consecutive pairs, evenly thinned."""
    index = cache.index[cache.index["pid"].isin(test_pids) & (cache.index["n_frames"] >= 2)]
    if index.empty:
        raise ConfigError("no test person of the split has a frame pair in the cache")
    rows = np.concatenate([o + np.arange(n - 1) for o, n in
                           zip(index["offset"], index["n_frames"], strict=True)])
    keep = np.unique(np.linspace(0, len(rows) - 1, min(max_pairs, len(rows))).round().astype(int))
    return rows[keep]


def endpoint_errors(estimate: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Mean EPE over all pixels and over moving pixels; (N, 64, 32, 2) arrays."""
    epe = np.linalg.norm(estimate - truth, axis=-1)
    moving = np.linalg.norm(truth, axis=-1) > MOVING_PX
    return float(epe.mean()), float(epe[moving].mean()) if moving.any() else float("nan")


def offline_estimates(frames: np.ndarray, rows: np.ndarray, method: str) -> tuple[np.ndarray, float]:
    """A registered method's flow on the pairs (store grid) and its milliseconds per pair."""
    started = time.perf_counter()
    out = np.stack([downsample_flow(compute_flow(method, frames[r], frames[r + 1])) for r in rows])
    return out, 1000.0 * (time.perf_counter() - started) / len(rows)


@torch.inference_mode()
def motion_net_estimates(checkpoint: str, frames: np.ndarray, rows: np.ndarray
                         ) -> tuple[np.ndarray, float]:
    """A pre-trained motion net's Pred3 on the pairs (store grid, CPU) and ms per pair."""
    payload = read_checkpoint(checkpoint, "motion-net")
    net = MotionNet(payload["model_config"]["width"])
    net.load_state_dict(payload["model_state"])
    net.eval()
    preprocess, out = Preprocess(payload["model_config"]["colour"]), []
    started = time.perf_counter()
    for b in range(0, len(rows), BATCH):
        part = rows[b:b + BATCH]
        clip = torch.from_numpy(np.stack([frames[part], frames[part + 1]], axis=1))
        x = to_unit_float(clip)  # (B, 2, 3, H, W)
        out.append(net(frame_pairs(preprocess(x))[:, 0]).pred3.permute(0, 2, 3, 1).numpy())
    return np.concatenate(out), 1000.0 * (time.perf_counter() - started) / len(rows)


def flow_error_table(cache_dir: str, truth_dir: str, split: str, methods: list[str],
                     motion_nets: dict[str, str], max_pairs: int) -> pd.DataFrame:
    """One row per flow estimate (COLUMNS), zero flow first, on the same held-out pairs."""
    cache = FrameCache(cache_dir)
    truth_store = FlowStore(truth_dir)
    rows = heldout_pairs(cache, read_split(split)["test_pids"], max_pairs)
    truth = np.asarray(truth_store.flow[rows], np.float32)
    frames = cache.frames
    zero_epe, zero_moving = endpoint_errors(np.zeros_like(truth), truth)
    table = [{"flow": "zero", "kind": "no motion", "epe": zero_epe, "epe_moving": zero_moving,
              "ms_per_pair": 0.0}]
    for method in methods:
        if method not in FLOW_METHODS:
            raise ConfigError(f"--methods: {method!r} is not a registered flow method "
                              f"({', '.join(sorted(FLOW_METHODS))})")
        estimate, ms = offline_estimates(frames, rows, method)
        epe, moving = endpoint_errors(estimate, truth)
        table.append({"flow": method, "kind": "offline", "epe": epe, "epe_moving": moving,
                      "ms_per_pair": ms})
    for target, checkpoint in sorted(motion_nets.items()):
        estimate, ms = motion_net_estimates(checkpoint, frames, rows)
        epe, moving = endpoint_errors(estimate, truth)
        table.append({"flow": f"motion net ({target} targets)", "kind": "pre-trained motion net",
                      "epe": epe, "epe_moving": moving, "ms_per_pair": ms})
    frame = pd.DataFrame(table)
    frame["ratio_to_zero"] = frame["epe"] / zero_epe
    frame["pairs"] = len(rows)
    return frame[COLUMNS]


def caption(frame: pd.DataFrame, split: str) -> str:
    """What the table measures, on which pairs."""
    return (f"End-point error (pixels of the 64 x 32 grid) against synthwalk's exact flow on "
            f"{int(frame['pairs'].iloc[0])} frame pairs of the held-out (test) persons of "
            f"{Path(split).name}. epe_moving: pixels whose true flow exceeds {MOVING_PX} px. "
            "ratio_to_zero: EPE / zero flow's EPE (below 1 = better than predicting no motion). "
            "Motion nets: pre-trained on the named targets, on training persons only "
            "(gt targets = synthwalk's exact flow: what the net learns when its targets carry "
            "no estimation error).")


def parse_targets(items: list[str]) -> dict[str, str]:
    """`TARGET=CKPT` strings -> {target: checkpoint}."""
    out = {}
    for item in items:
        target, sep, path = item.partition("=")
        if not sep or not target or not path:
            raise ConfigError(f"--motion-net {item!r}: expected TARGET=CHECKPOINT")
        out[target] = path
    return out


def main(argv: list[str] | None = None) -> int:
    """Measure and write PREFIX.md (table + caption) and PREFIX.csv."""
    parser = argparse.ArgumentParser(prog="amoc flow-error", description=__doc__.splitlines()[0])
    parser.add_argument("--cache", required=True, help="frame cache of a synthwalk dataset")
    parser.add_argument("--truth", required=True, help="its `gt` flow store")
    parser.add_argument("--split", required=True, help="split JSON: its test persons are used")
    parser.add_argument("--methods", nargs="*", default=sorted(FLOW_METHODS))
    parser.add_argument("--motion-net", nargs="*", default=[], help="TARGET=CHECKPOINT")
    parser.add_argument("--max-pairs", type=int, default=400)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", required=True, help="output prefix (writes .md and .csv)")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    frame = flow_error_table(args.cache, args.truth, args.split, args.methods,
                             parse_targets(args.motion_net), args.max_pairs)
    rounded = frame.round({"epe": 3, "epe_moving": 3, "ratio_to_zero": 2, "ms_per_pair": 2})
    write_text_atomic(f"{args.out}.csv", rounded.to_csv(index=False))
    write_text_atomic(f"{args.out}.md", caption(frame, args.split) + "\n\n" +
                      frame_markdown(rounded))
    log.info("flow error table:\n%s", rounded.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_command(main))
