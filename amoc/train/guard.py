"""Divergence guards: a run that blew up stops with the key to change, instead of being evaluated.

A training loss that grows by orders of magnitude (``train.lr: 10`` reached 2.6e12) or a
pre-trained motion net far worse than predicting no motion at all (``pretrain.lr: 1`` gave
18.7 px EPE where zero flow scores 0.8 px) would otherwise go on into tables and claims.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from amoc.errors import AmocError

GROWTH_LIMIT = 1e3  # an epoch loss this many times the first epoch's is a diverged run
LOSS_LIMIT = 1e6  # the multi-task loss of a sane net is O(margin^2 + log classes), far below
ZERO_FLOW_LIMIT = 5.0  # a pre-trained net this many times worse than zero flow is broken
ZERO_FLOW_SLACK = 1.0  # px: ... and at least this much worse (data with almost no motion)


class DivergenceError(AmocError):
    """A training or pre-training diverged."""


def check_training_loss(history: Sequence[dict[str, Any]], lr: float) -> None:
    """Stop a training whose last epoch loss is non-finite, huge, or 1000x the first epoch's.

    Args:
        history: per-epoch records with ``epoch`` and ``loss`` (``Run.history``), oldest first.
        lr: the run's ``train.lr``, named in the message.

    Raises:
        DivergenceError: naming the epoch, the losses and ``train.lr``.
    """
    if not history:
        return
    first, last = float(history[0]["loss"]), float(history[-1]["loss"])
    grown = math.isfinite(first) and first > 0 and last > GROWTH_LIMIT * first
    if math.isfinite(last) and last <= LOSS_LIMIT and not grown:
        return
    raise DivergenceError(
        f"training diverged at epoch {history[-1]['epoch']}: loss {last:.3g} (first epoch "
        f"{first:.3g}); lower train.lr (now {lr:g}) and rerun (no model was written)")


def check_pretraining_loss(loss: float, iteration: int, lr: float) -> None:
    """Stop a pre-training whose loss is no longer a finite number.

    Raises:
        DivergenceError: naming the iteration and ``pretrain.lr``.
    """
    if not math.isfinite(loss):
        raise DivergenceError(f"pre-training diverged at iteration {iteration}: loss {loss}; "
                              f"lower pretrain.lr (now {lr:g}) and rerun")


def check_pretrained_net(epe: float, zero_flow_epe: float, lr: float) -> None:
    """Stop a pre-training whose net is far worse than predicting zero flow on held-out pairs.

    Raises:
        DivergenceError: naming both EPEs and ``pretrain.lr`` (no checkpoint is written).
    """
    if math.isfinite(epe) and epe <= max(ZERO_FLOW_LIMIT * zero_flow_epe,
                                         zero_flow_epe + ZERO_FLOW_SLACK):
        return
    raise DivergenceError(
        f"the pre-trained motion net's held-out EPE is {epe:.3g} px, more than "
        f"{ZERO_FLOW_LIMIT:g}x zero flow's {zero_flow_epe:.3g} px: pre-training diverged; lower "
        f"pretrain.lr (now {lr:g}) and rerun (no motion net was written)")
