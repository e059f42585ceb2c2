"""Fig. 5 for one trained end-to-end model: frames, offline flow, and the motion net's flow.

Shows the first probe sequences of the cache; the columns are consecutive frame pairs.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import torch

from amoc.data.cache import FrameCache
from amoc.flow.store import FlowStore
from amoc.report.figures import plot_fig5
from amoc.train.checkpoint import load_model

log = logging.getLogger(__name__)


def fig5_panels(model: torch.nn.Module, cache: FrameCache, flow: np.ndarray, tracklet: int,
                n_pairs: int) -> tuple[list, list, list]:
    """Frames, offline flow and predicted Pred3 flow of the first `n_pairs` pairs of a tracklet.

    Returns:
        Three lists of `n_pairs` arrays: uint8 (128, 64, 3), float (64, 32, 2), float (64, 32, 2).
    """
    frames = cache.sequence(tracklet)[: n_pairs + 1]
    n = len(frames) - 1
    offset = int(cache.index.iloc[tracklet]["offset"])
    clip = torch.from_numpy(np.array(frames)).permute(0, 3, 1, 2).float() / 255.0
    with torch.no_grad():
        pred = model.predict_motion(clip[None]).pred3[0]  # (T-1, 2, 64, 32)
    predicted = [p.permute(1, 2, 0).numpy() for p in pred]
    offline = [np.asarray(flow[offset + k], dtype=np.float32) for k in range(n)]
    return list(frames[:n]), offline, predicted


def main(argv: list[str] | None = None) -> int:
    """CLI: `python -m amoc.report.fig5 --model M --cache C --flow-store F --out PREFIX`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--cache", required=True, type=Path)
    parser.add_argument("--flow-store", required=True, type=Path)
    parser.add_argument("--out", required=True, help="output prefix (.png and .pdf are written)")
    parser.add_argument("--pairs", type=int, default=6, help="frame pairs per sequence")
    parser.add_argument("--sequences", type=int, default=2, help="probe sequences shown")
    args = parser.parse_args(argv)
    model = load_model(args.model).eval()
    cache = FrameCache(args.cache)
    flow = FlowStore(args.flow_store).flow
    probes = np.flatnonzero(cache.index["camid"].to_numpy() == 0)[: args.sequences]
    panels: tuple[list, list, list] = ([], [], [])
    for tracklet in probes:
        for acc, part in zip(panels, fig5_panels(model, cache, flow, int(tracklet), args.pairs)):
            acc.extend(part)
    plot_fig5(*panels, args.out)
    log.info("Fig. 5 from %s -> %s.png/.pdf", args.model, args.out)
    return 0


if __name__ == "__main__":
    from amoc.cli import run_command

    raise SystemExit(run_command(main))
