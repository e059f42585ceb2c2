"""A tiny 3-D convolution (C3D-like) model plug-in: clips as (B, 3, T, H, W) volumes.

It shows that a plug-in of any tensor rank runs in the benchmark: its weights are 5-D, so the
benchmark's channels_last (4-D only) would not fit; the plug-in declares its memory format
(``memory_format = "contiguous"``, also the default). It follows docs/plugins.md: built as
``C3dTiny(num_classes=K, **kwargs)``, ``forward(frames, flow=None)`` returns ``features`` (B, D)
and ``logits`` (B, K). Enable it in a config as

    my_c3d: {model: {class: "examples.c3d_tiny:C3dTiny", embedding: 32}}

Like the AMOC models it reads frames 0..T-2 (T frames -> T - 1 steps).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn


class C3dOutput(NamedTuple):
    """Shape: features (B, D) pooled volume embedding; logits (B, num_classes)."""

    features: torch.Tensor
    logits: torch.Tensor


class C3dTiny(nn.Module):
    """(Conv3d, BatchNorm3d, ReLU, spatial max-pool) blocks at 64 x 32 -> global mean -> FC.

    Args:
        num_classes: training identities (filled in by the benchmark).
        embedding: feature size D.
        filters: channels of the 3-D conv blocks.
    """

    takes_flow = False  # reads frames only
    memory_format = "contiguous"  # 5-D weights: channels_last (4-D) does not apply

    def __init__(self, *, num_classes: int, embedding: int = 32,
                 filters: tuple[int, ...] | list[int] = (8, 16)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for out in filters:
            layers += [nn.Conv3d(channels, out, 3, padding=1), nn.BatchNorm3d(out), nn.ReLU(),
                       nn.MaxPool3d((1, 2, 2))]
            channels = out
        self.body = nn.Sequential(*layers)
        self.fc = nn.Linear(channels, embedding)
        self.classifier = nn.Linear(embedding, num_classes, bias=False)

    def forward(self, frames: torch.Tensor, flow: torch.Tensor | None = None) -> C3dOutput:
        """Shape: frames (B, T, 3, 128, 64) float in [0, 1] -> C3dOutput; flow is unused."""
        x = F.avg_pool3d(frames[:, :-1].transpose(1, 2) - 0.5, (1, 2, 2))  # (B, 3, T-1, 64, 32)
        features = self.fc(self.body(x).mean(dim=(2, 3, 4)))  # (B, D)
        return C3dOutput(features, self.classifier(features))
