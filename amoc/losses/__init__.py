"""Training losses: contrastive (Eq. 10), identity (Eq. 9), multi-task (Eq. 11), motion (Eq. 14)."""

from amoc.losses.contrastive import DEFAULT_MARGIN, contrastive_loss
from amoc.losses.identity import identity_loss
from amoc.losses.motion import SCALE_WEIGHTS, MotionLoss, multiscale_motion_loss, smooth_l1_sum
from amoc.losses.multitask import MultiTaskLoss, multitask_loss

__all__ = [
    "DEFAULT_MARGIN",
    "SCALE_WEIGHTS",
    "MotionLoss",
    "MultiTaskLoss",
    "contrastive_loss",
    "identity_loss",
    "multiscale_motion_loss",
    "multitask_loss",
    "smooth_l1_sum",
]
