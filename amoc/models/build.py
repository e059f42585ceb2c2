"""Building models from a config, and their size and cost."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from amoc.models.amoc_net import AmocNet
from amoc.models.config import ModelConfig

FRAME_HW = (128, 64)


def build_model(cfg: ModelConfig) -> AmocNet:
    """Instantiate the variant named by ``cfg.variant`` (validated by ModelConfig)."""
    return AmocNet(cfg)


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameter elements of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def gflops_per_pair(cfg: ModelConfig) -> float:
    """GFLOP of one training step per frame pair: forward + backward of a B=1, T=2 clip.

    Counted with torch's FlopCounterMode (matmuls and convolutions, 2 FLOP per multiply-add;
    element-wise ops such as tanh are not counted), on CPU, in train mode.

    Returns:
        GFLOP (1e9) per frame pair (= per time step).
    """
    model = build_model(cfg)
    frames = torch.rand(1, 2, 3, *FRAME_HW)  # (B, T, 3, H, W)
    flow = torch.zeros(1, 1, 2, FRAME_HW[0] // 2, FRAME_HW[1] // 2)  # (B, T-1, 2, h, w)
    counter = FlopCounterMode(display=False)
    with counter:
        out = model(frames, flow)
        (out.features.sum() + out.logits.sum()).backward()
    return counter.get_total_flops() / 1e9
