"""Multiscale smooth-L1 loss for pre-training the motion network (Sec. III-D1, Eq. 12-14).

Decisions:

* Eq. 12 sums smooth-L1 (Eq. 13, threshold 1) over pixels and both flow channels; the sum is
  kept per frame pair and averaged over the batch (so the batch size does not scale the loss).
* Weights w1, w2, w3 = 0.01, 0.02, 0.08 for Pred1 (1/8), Pred2 (1/4), Pred3 (1/2 of the input).
* Ground truth (the offline flow store, at 64 x 32 = the Pred3 grid, in pixels of that grid) is
  area-downsampled (average pooling) to each prediction's size. Its values are NOT rescaled with
  the resolution (FlowNet's convention): every prediction is in pixels of the Pred3 grid, so the
  three maps share one scale and Pred1/Pred2 can be upsampled into Pred3 without a factor.
* The unit of flow inside the loss is ``flow_scale`` of those pixels (PretrainConfig.flow_scale):
  the paper does not give its unit, and with it Eq. 13's threshold of 1 decides where the loss
  stops being quadratic.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

SCALE_WEIGHTS: tuple[float, float, float] = (0.01, 0.02, 0.08)  # Pred1, Pred2, Pred3


class MotionLoss(NamedTuple):
    """Eq. 14 total and the unweighted per-scale losses of Eq. 12 (scalars)."""

    total: torch.Tensor
    pred1: torch.Tensor
    pred2: torch.Tensor
    pred3: torch.Tensor


def smooth_l1_sum(prediction: torch.Tensor, target: torch.Tensor,
                  flow_scale: float = 1.0) -> torch.Tensor:
    """Eq. 12 at one scale: smooth-L1 summed over pixels and channels, mean over the batch.

    The target is average-pooled to the prediction's size first; both are then multiplied by
    ``flow_scale`` (the loss's unit of flow).

    Shape:
        prediction (N, 2, h, w); target (N, 2, H, W) with H, W multiples of h, w.
    """
    target = F.adaptive_avg_pool2d(target.float(), prediction.shape[-2:])
    per_element = F.smooth_l1_loss(prediction.float() * flow_scale, target * flow_scale,
                                   reduction="none", beta=1.0)
    return per_element.sum(dim=(1, 2, 3)).mean()


def multiscale_motion_loss(
    pred1: torch.Tensor,
    pred2: torch.Tensor,
    pred3: torch.Tensor,
    target: torch.Tensor,
    weights: tuple[float, float, float] = SCALE_WEIGHTS,
    flow_scale: float = 1.0,
) -> MotionLoss:
    """Eq. 14: sum over the three scales of w_l * Eq. 12.

    Args:
        pred1, pred2, pred3: MotionNet predictions (coarse to fine).
        target: offline flow on the Pred3 grid, channels (u, v) first (the store's
            (N, 64, 32, 2) permuted to (N, 2, 64, 32)).
        weights: w1, w2, w3.
        flow_scale: flow is measured in units of 1 / flow_scale pixels inside the loss.

    Shape:
        pred_l (N, 2, h_l, w_l); target (N, 2, 64, 32).
    """
    terms = [smooth_l1_sum(p, target, flow_scale) for p in (pred1, pred2, pred3)]
    total = sum(w * term for w, term in zip(weights, terms, strict=True))
    return MotionLoss(total, *terms)
