"""Identity (classification) loss of Eq. 8-9: softmax cross-entropy on a sequence's logits."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def identity_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean -log P(z = c | u) over a batch of sequences.

    Shape:
        logits (P, K) = S u before the softmax; labels (P,) int64 in [0, K).
    """
    return F.cross_entropy(logits.float(), labels)
