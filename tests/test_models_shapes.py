"""Output shapes of every variant and fusion configuration, and of the model's building blocks."""

from __future__ import annotations

import pytest
import torch

from amoc.models import (
    FUSION_LAYERS,
    FUSION_METHODS,
    PAPER_MOTION_WIDTH,
    POOLINGS,
    ModelConfig,
    MotionNet,
    Preprocess,
    build_model,
    frame_pairs,
)
from amoc.models.motion import CONTRACTING
from amoc.variants import VARIANTS

NUM_CLASSES = 7
B, T = 1, 3


def _clip(b: int = B, t: int = T) -> tuple[torch.Tensor, torch.Tensor]:
    """Random frames (b, t, 3, 128, 64) in [0, 1] and offline flow (b, t - 1, 2, 64, 32)."""
    gen = torch.Generator().manual_seed(0)
    frames = torch.rand(b, t, 3, 128, 64, generator=gen)
    flow = torch.randn(b, t - 1, 2, 64, 32, generator=gen)
    return frames, flow


def _check(out, b: int, t: int, dim: int = 128) -> None:
    assert out.features.shape == (b, dim)
    assert out.logits.shape == (b, NUM_CLASSES)
    assert out.step_features.shape == (b, t - 1, dim)
    assert all(torch.isfinite(x).all() for x in out)


@pytest.mark.parametrize("width", [0.25, PAPER_MOTION_WIDTH])
@pytest.mark.parametrize("pooling", sorted(POOLINGS))
@pytest.mark.parametrize("layer", FUSION_LAYERS)
@pytest.mark.parametrize("fusion", sorted(FUSION_METHODS))
def test_every_fusion_config_gives_expected_shapes(fusion, layer, pooling, width):
    cfg = ModelConfig(
        num_classes=NUM_CLASSES,
        fusion=fusion,
        fusion_layer=layer,
        pooling=pooling,
        motion_width=width,
    )
    model = build_model(cfg).eval()
    frames, _ = _clip()
    with torch.no_grad():
        _check(model(frames), B, T)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_variant_gives_expected_shapes(variant):
    model = build_model(ModelConfig(num_classes=NUM_CLASSES, variant=variant, embedding=64))
    frames, flow = _clip(b=2, t=4)
    _check(model(frames, flow), 2, 4, dim=64)


def test_two_frame_clip_is_one_step_and_pooling_is_over_rnn_outputs():
    frames, _ = _clip(t=2)
    for pooling in POOLINGS:
        model = build_model(ModelConfig(num_classes=NUM_CLASSES, pooling=pooling)).eval()
        with torch.no_grad():
            out = model(frames)
        torch.testing.assert_close(out.features, out.step_features[:, 0])


@pytest.mark.parametrize(
    ("hw", "sizes"),
    [((128, 64), [(16, 8), (32, 16), (64, 32)]), ((64, 48), [(8, 6), (16, 12), (32, 24)])],
)
def test_motion_net_predicts_at_one_eighth_quarter_half(hw, sizes):
    out = MotionNet(width=0.25)(torch.rand(2, 6, *hw))
    assert [tuple(p.shape) for p in out] == [(2, 2, *s) for s in sizes]


def test_motion_net_rejects_size_not_divisible_by_8():
    with pytest.raises(ValueError, match="divisible by 8"):
        MotionNet(width=0.25)(torch.rand(1, 6, 60, 32))


def test_motion_net_widths_follow_flownets_scheme():
    paper, narrow_net = MotionNet(width=PAPER_MOTION_WIDTH), MotionNet(width=0.25)
    convs = [getattr(paper, name)[0] for name, *_ in CONTRACTING]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256]
    assert [c.kernel_size[0] for c in convs] == [7, 3, 5, 3, 5, 3]
    assert [c.stride[0] for c in convs] == [2, 1, 2, 1, 2, 1]
    narrow = [getattr(narrow_net, name)[0].out_channels for name, *_ in CONTRACTING]
    assert narrow == [16, 16, 32, 32, 64, 64]


def test_predict_motion_returns_per_step_maps():
    model = build_model(ModelConfig(num_classes=NUM_CLASSES))
    frames, _ = _clip(b=2, t=4)
    out = model.predict_motion(frames)
    assert tuple(out.pred3.shape) == (2, 3, 2, 64, 32)
    assert tuple(out.pred1.shape) == (2, 3, 2, 16, 8)


def test_frame_pairs_stack_frame_t_then_t_plus_1():
    frames = torch.arange(4.0).view(1, 4, 1, 1, 1).expand(1, 4, 3, 2, 2)
    pairs = frame_pairs(frames)
    assert pairs.shape == (1, 3, 6, 2, 2)
    assert pairs[0, :, 0, 0, 0].tolist() == [0.0, 1.0, 2.0]
    assert pairs[0, :, 3, 0, 0].tolist() == [1.0, 2.0, 3.0]


def test_preprocess_standardises_each_frame_and_channel():
    frames, _ = _clip(b=2, t=3)
    yuv = Preprocess()(frames)
    assert yuv.shape == frames.shape
    torch.testing.assert_close(yuv.mean(dim=(-2, -1)), torch.zeros(2, 3, 3), atol=1e-5, rtol=0)
    std = yuv.std(dim=(-2, -1), unbiased=False)
    torch.testing.assert_close(std, torch.ones(2, 3, 3), atol=1e-3, rtol=0)


def test_preprocess_luma_of_black_and_white_halves():
    frames = torch.zeros(1, 1, 3, 4, 2)
    frames[..., :2, :] = 1.0  # top half white, bottom half black
    yuv = Preprocess()(frames)[0, 0]
    # Y standardised to +1 / -1 (up to the eps in the variance)
    torch.testing.assert_close(yuv[0, :2], torch.ones(2, 2), atol=1e-4, rtol=0)
    torch.testing.assert_close(yuv[0, 2:], -torch.ones(2, 2), atol=1e-4, rtol=0)
    torch.testing.assert_close(yuv[1:], torch.zeros(2, 4, 2), atol=1e-2, rtol=0)  # grey: no chroma
