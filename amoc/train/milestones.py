"""Rank-1 learning curves: the test persons' rank-1 at a few epochs fixed before training.

Why: a 4-epoch CPU model and a 1000-epoch one can rank variants differently (docs/results.md),
so each training records where it stands along the way. The milestones are log-spaced and end at
the final epoch, chosen from ``epochs`` alone before the run starts: they describe the curve and
are never used to pick a "best" epoch (the evaluation job scores the final model only).

The probe is the evaluation protocol at its plainest: the split's test persons, camera 0 against
camera 1, the whole sequence (up to 128 frames), no test-time augmentation. It draws no random
numbers, so recording milestones leaves the training trajectory unchanged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from amoc.config import EvalConfig
from amoc.eval.evaluate import evaluate_length, probe_gallery

MILESTONE_TEST_LENGTH = 128


def milestone_epochs(epochs: int, count: int) -> list[int]:
    """``count`` log-spaced epochs in [1, epochs], the last being ``epochs`` (fewer if they
    coincide); [] when count is 0."""
    if count <= 0:
        return []
    points = np.unique(np.rint(np.geomspace(1, epochs, count)).astype(int))
    return sorted({int(p) for p in points} | {epochs})


class Rank1Probe:
    """Scores a model's rank-1 on one split's test persons (see the module docstring)."""

    def __init__(self, index: pd.DataFrame, test_pids: list[int], frames: np.ndarray,
                 flow: np.ndarray | None, device: torch.device) -> None:
        self.cfg = EvalConfig.from_dict({"tta": "none", "test_lengths": [MILESTONE_TEST_LENGTH],
                                         "device": device.type})
        self.probe, self.gallery = probe_gallery(index, test_pids, self.cfg.protocol)
        self.frames, self.flow, self.device = frames, flow, device

    def __call__(self, model: nn.Module, label: str = "model") -> float:
        """Rank-1 as a fraction; the model is left in eval mode (training sets train mode)."""
        model.eval()
        metrics = evaluate_length(model, self.frames, self.flow, self.probe, self.gallery,
                                  MILESTONE_TEST_LENGTH, self.cfg, self.device, label=label)
        return float(metrics.cmc[0])
