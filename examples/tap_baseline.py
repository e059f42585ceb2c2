"""Temporal average pooling (TAP): the classic video re-id baseline, as a model plug-in.

A per-frame CNN embeds every frame of a clip; the clip's feature is the mean of its frame
embeddings, with no recurrence and no motion input. It follows docs/plugins.md: built as
``TapNet(num_classes=K, **kwargs)``, ``forward(frames, flow=None)`` returns ``features`` (B, D)
and ``logits`` (B, K). Enable it in a config as

    my_tap: {model: {class: "examples.tap_baseline:TapNet", embedding: 64}}

It reads only frame t of each step, as the AMOC models do (T frames -> T - 1 steps), so the
benchmark's clips, losses and evaluation apply unchanged.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn


class TapOutput(NamedTuple):
    """Shape: features (B, D) mean frame embedding; logits (B, num_classes)."""

    features: torch.Tensor
    logits: torch.Tensor


class TapNet(nn.Module):
    """Frame CNN (3 conv-tanh-maxpool blocks at 64 x 32, FC) -> mean over time -> classifier.

    Args:
        num_classes: training identities (filled in by the benchmark).
        embedding: feature size D.
        filters: channels of the three conv blocks.
        dropout: before the FC layer.
    """

    takes_flow = False  # no offline flow input: the workflow gives this model none

    def __init__(self, *, num_classes: int, embedding: int = 64,
                 filters: tuple[int, int, int] | list[int] = (16, 32, 32),
                 dropout: float = 0.3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for out in filters:
            layers += [nn.Conv2d(channels, out, 5, padding=2), nn.Tanh(), nn.MaxPool2d(2)]
            channels = out
        self.cnn = nn.Sequential(*layers)
        self.fc = nn.Sequential(nn.Flatten(), nn.Dropout(dropout),
                                nn.Linear(channels * 8 * 4, embedding))
        self.classifier = nn.Linear(embedding, num_classes, bias=False)

    def forward(self, frames: torch.Tensor, flow: torch.Tensor | None = None) -> TapOutput:
        """Shape: frames (B, T, 3, 128, 64) float in [0, 1] -> TapOutput; flow is unused."""
        b, t = frames.shape[:2]
        x = F.avg_pool2d(frames[:, :-1].flatten(0, 1) - 0.5, 2)  # (B*(T-1), 3, 64, 32)
        per_frame = self.fc(self.cnn(x)).unflatten(0, (b, t - 1))  # (B, T-1, D)
        features = per_frame.mean(dim=1)  # (B, D)
        return TapOutput(features, self.classifier(features))
