"""Fig. 5: frames, the offline flow target, and the PRE-TRAINED motion net's flow, as in the paper.

The paper shows its motion net after pre-training on EpicFlow targets (Sec. III-D1), not the one
fine-tuned inside end-to-end AMOC, and "perform[s] the motion networks on the left half persons'
sequences": the test persons. So this takes a motion-net checkpoint of ``amoc.train.pretrain_motion``
(the workflow passes the one pre-trained on the EpicFlow store with ``pretrain.persons: train``,
the default) and a split, and shows the first probe (camera 0) sequences of the split's test
persons; the columns are consecutive frame pairs.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import torch

from amoc.data.cache import FrameCache
from amoc.errors import DatasetError
from amoc.flow.store import FlowStore
from amoc.models import MotionNet, Preprocess, frame_pairs
from amoc.report.figures import plot_fig5
from amoc.train.checkpoint import read_checkpoint
from amoc.train.inputs import read_split

log = logging.getLogger(__name__)


class PretrainedMotion:
    """A pre-trained motion net with the preprocessing it was trained with.

    Args:
        path: a "motion-net" checkpoint (its model_config holds width and colour).
    """

    def __init__(self, path: str | Path) -> None:
        payload = read_checkpoint(path, "motion-net")
        config = payload["model_config"]
        self.net = MotionNet(config["width"]).eval()
        self.net.load_state_dict(payload["model_state"])
        self.preprocess = Preprocess(config["colour"])

    @torch.no_grad()
    def pred3(self, clip: torch.Tensor) -> torch.Tensor:
        """Pred3 of every consecutive pair.

        Shape: clip (T, 3, 128, 64) RGB in [0, 1] -> (T - 1, 2, 64, 32).
        """
        pairs = frame_pairs(self.preprocess(clip[None]))[0]  # (T-1, 6, 128, 64)
        return self.net(pairs).pred3


def fig5_panels(motion: PretrainedMotion, cache: FrameCache, flow: np.ndarray, tracklet: int,
                n_pairs: int) -> tuple[list, list, list]:
    """Frames, offline flow and predicted Pred3 flow of the first `n_pairs` pairs of a tracklet.

    Returns:
        Three lists of `n_pairs` arrays: uint8 (128, 64, 3), float (64, 32, 2), float (64, 32, 2).
    """
    frames = cache.sequence(tracklet)[: n_pairs + 1]
    n = len(frames) - 1
    offset = int(cache.index.iloc[tracklet]["offset"])
    clip = torch.from_numpy(np.array(frames)).permute(0, 3, 1, 2).float() / 255.0
    predicted = [p.permute(1, 2, 0).numpy() for p in motion.pred3(clip)]
    offline = [np.asarray(flow[offset + k], dtype=np.float32) for k in range(n)]
    return list(frames[:n]), offline, predicted


def heldout_probes(cache: FrameCache, test_pids: list[int], count: int) -> np.ndarray:
    """Rows of the first ``count`` camera-0 tracklets of the test persons (2+ frames)."""
    index = cache.index
    mask = (index["camid"].to_numpy() == 0) & index["pid"].isin(test_pids).to_numpy() & (
        index["n_frames"].to_numpy() >= 2)
    rows = np.flatnonzero(mask)[:count]
    if not len(rows):
        raise DatasetError(f"{cache.dir}: no camera-0 tracklet of the split's test persons")
    return rows


def main(argv: list[str] | None = None) -> int:
    """CLI: `python -m amoc.report.fig5 --motion-net M --cache C --flow-store F --split S --out P`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--motion-net", required=True, type=Path,
                        help="pre-trained motion net (amoc.train.pretrain_motion)")
    parser.add_argument("--cache", required=True, type=Path)
    parser.add_argument("--flow-store", required=True, type=Path, help="its training target")
    parser.add_argument("--split", required=True, type=Path, help="shows its test persons")
    parser.add_argument("--out", required=True, help="output prefix (.png and .pdf are written)")
    parser.add_argument("--title", default=None, help="figure title (what is shown)")
    parser.add_argument("--pairs", type=int, default=6, help="frame pairs per sequence")
    parser.add_argument("--sequences", type=int, default=2, help="probe sequences shown")
    args = parser.parse_args(argv)
    motion = PretrainedMotion(args.motion_net)
    cache = FrameCache(args.cache)
    flow = FlowStore(args.flow_store).flow
    panels: tuple[list, list, list] = ([], [], [])
    for row in heldout_probes(cache, read_split(args.split)["test_pids"], args.sequences):
        for acc, part in zip(panels, fig5_panels(motion, cache, flow, int(row), args.pairs)):
            acc.extend(part)
    plot_fig5(*panels, args.out, title=args.title)
    log.info("Fig. 5 from %s -> %s.png/.pdf", args.motion_net, args.out)
    return 0


if __name__ == "__main__":
    from amoc.cli import run_command

    raise SystemExit(run_command(main))
