"""Losses against values computed by hand on tiny inputs."""

from __future__ import annotations

import math

import pytest
import torch

from amoc.losses import (
    SCALE_WEIGHTS,
    contrastive_loss,
    identity_loss,
    multiscale_motion_loss,
    multitask_loss,
)


def _pairs() -> tuple[torch.Tensor, torch.Tensor]:
    u_a = torch.zeros(3, 2)
    u_b = torch.tensor([[3.0, 4.0], [1.0, 0.0], [3.0, 4.0]])  # distances 5, 1, 5
    return u_a, u_b


def test_contrastive_positive_squared_negative_squared_hinge():
    u_a, u_b = _pairs()
    same = torch.tensor([True, False, False])
    # positive at distance 5: 25; negative at 1: (2 - 1)^2 = 1; negative at 5 >= margin: 0
    assert contrastive_loss(u_a, u_b, same).item() == pytest.approx(26 / 3)
    assert contrastive_loss(u_a, u_b, same, margin=6.0).item() == pytest.approx((25 + 25 + 1) / 3)


def test_contrastive_gradient_is_finite_for_identical_negative_pair():
    u = torch.zeros(1, 2, requires_grad=True)
    loss = contrastive_loss(u, torch.zeros(1, 2), torch.tensor([False]))
    loss.backward()
    assert loss.item() == pytest.approx(4.0)
    assert torch.isfinite(u.grad).all()


def test_identity_loss_is_softmax_cross_entropy():
    logits = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]])
    labels = torch.tensor([0, 0])
    # -log(1/2) and -log(3/4), averaged
    expected = (math.log(2.0) + math.log(4.0 / 3.0)) / 2
    assert identity_loss(logits, labels).item() == pytest.approx(expected)


def test_multitask_is_equal_weight_sum_and_labels_define_positives():
    u_a, u_b = _pairs()
    logits_a = torch.tensor([[0.0, 0.0]] * 3)
    logits_b = torch.tensor([[math.log(3.0), 0.0]] * 3)
    labels_a, labels_b = torch.tensor([1, 0, 1]), torch.tensor([1, 1, 0])
    loss = multitask_loss(u_a, u_b, logits_a, logits_b, labels_a, labels_b)
    assert loss.contrastive.item() == pytest.approx(26 / 3)
    assert loss.identity_a.item() == pytest.approx(math.log(2.0))
    # labels_b = 1, 1, 0 -> p = 1/4, 1/4, 3/4
    expected_b = (2 * math.log(4.0) + math.log(4.0 / 3.0)) / 3
    assert loss.identity_b.item() == pytest.approx(expected_b)
    assert loss.total.item() == pytest.approx(26 / 3 + math.log(2.0) + expected_b)


def test_multiscale_motion_loss_by_hand():
    target = torch.zeros(2, 2, 4, 4)  # second pair: zero flow and zero prediction, loss 0
    target[0, 0] = 2.0  # u = 2 everywhere
    target[0, 1, :2, :2] = 4.0  # v = 4 in the top-left 2x2 block
    pred3, pred2, pred1 = torch.zeros(2, 2, 4, 4), torch.zeros(2, 2, 2, 2), torch.zeros(2, 2, 1, 1)
    pred1[0, 1] = 0.4
    loss = multiscale_motion_loss(pred1, pred2, pred3, target)
    # Pred3: 16 px * (2 - 0.5) + 4 px * (4 - 0.5) = 38
    # Pred2: pooled u = 2 on 4 px -> 6; pooled v = 4 on 1 px -> 3.5; sum 9.5
    # Pred1: pooled u = 2 -> 1.5; pooled v = 1, prediction 0.4 -> 0.5 * 0.6^2 = 0.18; sum 1.68
    # Batch mean halves each (second pair costs 0).
    assert loss.pred3.item() == pytest.approx(38 / 2)
    assert loss.pred2.item() == pytest.approx(9.5 / 2)
    assert loss.pred1.item() == pytest.approx(1.68 / 2)
    w1, w2, w3 = SCALE_WEIGHTS
    assert (w1, w2, w3) == (0.01, 0.02, 0.08)
    assert loss.total.item() == pytest.approx((w1 * 1.68 + w2 * 9.5 + w3 * 38) / 2)


def test_flow_scale_is_the_loss_unit_so_sub_pixel_errors_become_linear() -> None:
    """An error of 0.5 px is quadratic in pixels (0.125) but linear in 0.1 px units
    (|5| - 0.5 = 4.5); a 2 px error is linear in both (1.5 and 19.5)."""
    target = torch.zeros(1, 2, 2, 2)
    target[0, 0, 0, 0], target[0, 1, 1, 1] = 0.5, 2.0
    pred3 = torch.zeros(1, 2, 2, 2)
    coarse = (torch.zeros(1, 2, 1, 1), torch.zeros(1, 2, 1, 1))
    in_pixels = multiscale_motion_loss(*coarse, pred3, target).pred3
    in_tenths = multiscale_motion_loss(*coarse, pred3, target, flow_scale=10.0).pred3
    assert in_pixels.item() == pytest.approx(0.125 + 1.5)
    assert in_tenths.item() == pytest.approx(4.5 + 19.5)
