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
    TwoStreamEncoder,
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


# (C, H, W) after each fusion point of a 64 x 32 input: the paper's "all the strides ... are
# set as 2" (Sec. III-B2) and the baseline's stride-1 convolutions.
FUSION_POINT_SHAPES = {
    2: {"tanh1": (16, 34, 18), "pool1": (16, 17, 9), "tanh2": (32, 11, 7), "pool2": (32, 5, 3),
        "tanh3": (32, 5, 4), "pool3": (32, 2, 2), "fc": (128,)},
    1: {"tanh1": (16, 68, 36), "pool1": (16, 34, 18), "tanh2": (32, 38, 22),
        "pool2": (32, 19, 11), "tanh3": (32, 23, 15), "pool3": (32, 11, 7), "fc": (128,)},
}


@pytest.mark.parametrize("stride", sorted(FUSION_POINT_SHAPES))
@pytest.mark.parametrize("layer", FUSION_LAYERS)
@pytest.mark.parametrize("fusion", sorted(FUSION_METHODS))
def test_all_21_fusion_points_have_the_expected_maps(fusion, layer, stride):
    enc = TwoStreamEncoder(3, 2, fusion, layer, (16, 32, 32), 128, 0.6, stride).eval()
    rgb, flow = torch.rand(2, 3, 64, 32), torch.rand(2, 2, 64, 32)
    with torch.no_grad():
        a, b = enc.rgb_stream(rgb), enc.flow_stream(flow)
        fused = enc.fuse(a, b)
        out = enc.trunk(fused)
    shape = FUSION_POINT_SHAPES[stride][layer]
    assert tuple(a.shape) == tuple(b.shape) == (2, *shape)
    widen = 2 if fusion == "concat" else 1
    assert tuple(fused.shape) == (2, shape[0] * widen, *shape[1:])
    assert tuple(out.shape) == (2, enc.out_dim) and enc.out_dim == 128 * (widen if layer == "fc" else 1)


@pytest.mark.parametrize(("variant", "stride", "colour", "fc_in"),
                         [("amoc", 2, "rgb", 128), ("amoc_offline", 2, "rgb", 128),
                          ("amoc_nomotion", 2, "rgb", 128), ("rcn", 1, "yuv", 2464)])
def test_variants_default_to_the_paper_or_the_baseline_input(variant, stride, colour, fc_in):
    cfg = ModelConfig(num_classes=NUM_CLASSES, variant=variant)
    assert (cfg.spatial_stride, cfg.colour) == (stride, colour)
    fc = next(m for m in build_model(cfg).modules() if isinstance(m, torch.nn.Linear))
    assert fc.in_features == fc_in
    override = ModelConfig(num_classes=NUM_CLASSES, variant=variant, spatial_stride=3 - stride)
    assert override.spatial_stride == 3 - stride


def test_rgb_preprocess_keeps_the_channels():
    frames, _ = _clip(b=1, t=2)
    rgb = Preprocess("rgb")(frames)
    mean = frames.mean(dim=(-2, -1), keepdim=True)
    std = frames.std(dim=(-2, -1), unbiased=False, keepdim=True)
    torch.testing.assert_close(rgb, (frames - mean) / std, atol=1e-3, rtol=0)  # eps in var


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
    yuv = Preprocess("yuv")(frames)
    assert yuv.shape == frames.shape
    torch.testing.assert_close(yuv.mean(dim=(-2, -1)), torch.zeros(2, 3, 3), atol=1e-5, rtol=0)
    std = yuv.std(dim=(-2, -1), unbiased=False)
    torch.testing.assert_close(std, torch.ones(2, 3, 3), atol=1e-3, rtol=0)


def test_preprocess_luma_of_black_and_white_halves():
    frames = torch.zeros(1, 1, 3, 4, 2)
    frames[..., :2, :] = 1.0  # top half white, bottom half black
    yuv = Preprocess("yuv")(frames)[0, 0]
    # Y standardised to +1 / -1 (up to the eps in the variance)
    torch.testing.assert_close(yuv[0, :2], torch.ones(2, 2), atol=1e-4, rtol=0)
    torch.testing.assert_close(yuv[0, 2:], -torch.ones(2, 2), atol=1e-4, rtol=0)
    torch.testing.assert_close(yuv[1:], torch.zeros(2, 4, 2), atol=1e-2, rtol=0)  # grey: no chroma


def test_untrained_motion_net_is_not_odd_so_it_can_fit_flow():
    """Motion is unchanged when both frames are contrast-inverted; a net with net(-x) = -net(x)
    could only predict no motion, so the tanh biases must break the symmetry at init."""
    torch.manual_seed(0)
    net, pair = MotionNet(width=0.125), torch.randn(2, 6, 64, 32)
    out, inverted = net(pair).pred3, net(-pair).pred3
    odd_part = (out - inverted).abs().mean() / 2
    even_part = (out + inverted).abs().mean() / 2
    assert even_part > 0.1 * odd_part
    biases = [m.bias for m in net.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d)
              and m.bias is not None and m.out_channels != 2]
    assert all(b.abs().max() <= 1 for b in biases) and all(b.abs().mean() > 0.2 for b in biases)
