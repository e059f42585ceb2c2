"""Multi-task loss of Eq. 11: contrastive + identity loss of each sequence, equal weights."""

from __future__ import annotations

from typing import NamedTuple

import torch

from amoc.losses.contrastive import DEFAULT_MARGIN, contrastive_loss
from amoc.losses.identity import identity_loss


class MultiTaskLoss(NamedTuple):
    """Eq. 11 total and its terms (scalars); ``total`` is what is back-propagated."""

    total: torch.Tensor
    contrastive: torch.Tensor
    identity_a: torch.Tensor
    identity_b: torch.Tensor


def multitask_loss(
    features_a: torch.Tensor,
    features_b: torch.Tensor,
    logits_a: torch.Tensor,
    logits_b: torch.Tensor,
    labels_a: torch.Tensor,
    labels_b: torch.Tensor,
    margin: float = DEFAULT_MARGIN,
) -> MultiTaskLoss:
    """L_multi = L_con(u_a, u_b) + L_class(u_a) + L_class(u_b), each a mean over the P pairs.

    A pair is positive when its two labels are equal.

    Shape:
        features_* (P, D); logits_* (P, K); labels_* (P,) int64.
    """
    contrastive = contrastive_loss(features_a, features_b, labels_a == labels_b, margin)
    identity_a = identity_loss(logits_a, labels_a)
    identity_b = identity_loss(logits_b, labels_b)
    total = contrastive + identity_a + identity_b
    return MultiTaskLoss(total, contrastive, identity_a, identity_b)
