"""Structure of the AMOC family: where gradients flow, what is shared, errors, size and cost."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from amoc.errors import ConfigError
from amoc.models import (
    FUSION_LAYERS,
    FUSION_METHODS,
    ModelConfig,
    RecurrentAccumulator,
    SpatialNet,
    TwoStreamEncoder,
    build_model,
    count_parameters,
    gflops_per_pair,
)
from amoc.models.config import canonical_fusion
from amoc.models.temporal import POOLINGS

NUM_CLASSES = 5


def _inputs(b: int = 2, t: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return torch.rand(b, t, 3, 128, 64, generator=gen), torch.randn(
        b, t - 1, 2, 64, 32, generator=gen
    )


def _backward(model: nn.Module, flow: torch.Tensor | None = None) -> None:
    frames, offline = _inputs()
    out = model(frames, offline if flow is None else flow)
    (out.features.sum() + out.logits.sum()).backward()


@pytest.mark.parametrize("variant", ["rcn", "amoc_nomotion", "amoc_offline", "amoc"])
def test_every_parameter_receives_a_gradient(variant):
    model = build_model(ModelConfig(num_classes=NUM_CLASSES, variant=variant))
    _backward(model)
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert missing == []


def test_end_to_end_gradient_reaches_motion_net():
    model = build_model(ModelConfig(num_classes=NUM_CLASSES, variant="amoc"))
    _backward(model)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.motion_net.parameters())


@pytest.mark.parametrize("variant", ["rcn", "amoc_offline", "amoc_nomotion"])
def test_non_end_to_end_variants_have_no_motion_net(variant):
    model = build_model(ModelConfig(num_classes=NUM_CLASSES, variant=variant))
    assert model.motion_net is None
    assert not any(name.startswith("motion_net") for name, _ in model.named_parameters())
    with pytest.raises(ConfigError, match="no motion network"):
        model.predict_motion(_inputs()[0])


def test_offline_flow_gets_gradient_only_as_an_input():
    model = build_model(ModelConfig(num_classes=NUM_CLASSES, variant="amoc_offline"))
    flow = _inputs()[1].requires_grad_()
    _backward(model, flow)
    assert flow.grad is not None and flow.grad.abs().sum() > 0


def test_single_stream_input_channels():
    rcn = build_model(ModelConfig(num_classes=NUM_CLASSES, variant="rcn"))
    plain = build_model(ModelConfig(num_classes=NUM_CLASSES, variant="amoc_nomotion"))
    assert isinstance(rcn.encoder, SpatialNet) and isinstance(plain.encoder, SpatialNet)
    assert rcn.encoder.stages[0][0].in_channels == 5  # YUV + (u, v)
    assert plain.encoder.stages[0][0].in_channels == 3


def _weight_layers(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, nn.Conv2d | nn.Linear)]


def _fan_in(layer: nn.Module) -> int:
    return layer.in_channels if isinstance(layer, nn.Conv2d) else layer.in_features


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("layer", FUSION_LAYERS)
def test_layers_after_fusion_point_exist_once(layer, stride):
    encoders = {f: TwoStreamEncoder(3, 2, f, layer, (16, 32, 32), 128, 0.6, stride)
                for f in FUSION_METHODS}
    split = FUSION_LAYERS.index(layer) + 1
    own = (split + 1) // 2  # weight layers among stages 0..split-1 (convs at 0, 2, 4; FC at 6)
    for enc in encoders.values():
        assert len(_weight_layers(enc.rgb_stream)) == own == len(_weight_layers(enc.flow_stream))
        assert len(_weight_layers(enc.trunk)) == 4 - own
        rgb_ids = {id(p) for p in enc.rgb_stream.parameters()}
        assert rgb_ids.isdisjoint(id(p) for p in enc.flow_stream.parameters())
    # concatenation doubles what enters the first shared layer (or the RNN after "fc")
    if split == len(FUSION_LAYERS):
        dims = {f: enc.out_dim for f, enc in encoders.items()}
    else:
        dims = {f: _fan_in(_weight_layers(enc.trunk)[0]) for f, enc in encoders.items()}
    assert dims["concat"] == 2 * dims["sum"] == 2 * dims["max"]


def test_fusion_values_match_eq_1_to_3():
    a, b = torch.tensor([[1.0, -2.0]]), torch.tensor([[3.0, -4.0]])
    assert FUSION_METHODS["sum"][0](a, b).tolist() == [[4.0, -6.0]]
    assert FUSION_METHODS["max"][0](a, b).tolist() == [[3.0, -2.0]]
    assert FUSION_METHODS["concat"][0](a, b).tolist() == [[1.0, -2.0, 3.0, -4.0]]


def test_rnn_matches_eq_4_and_5():
    rnn = RecurrentAccumulator(2, 2)
    with torch.no_grad():
        rnn.input_proj.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0]]))
        rnn.input_proj.bias.zero_()
        rnn.recurrent.weight.copy_(torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
    f = torch.tensor([[[1.0, 0.5], [0.0, 0.0], [2.0, 0.0]]])  # (B=1, T=3, p=2)
    o1 = torch.tensor([1.0, 1.0])
    o2 = torch.tanh(o1).flip(0)  # M f2 = 0, N swaps the two units
    o3 = torch.tensor([2.0, 0.0]) + torch.tanh(o2).flip(0)
    expected = torch.stack([o1, o2, o3])[None]
    torch.testing.assert_close(rnn(f), expected)
    torch.testing.assert_close(POOLINGS["avg"](expected), expected.mean(1))
    torch.testing.assert_close(POOLINGS["max"](expected), expected.amax(1))


@pytest.mark.parametrize("variant", ["rcn", "amoc_offline"])
def test_missing_offline_flow_is_a_clear_error(variant):
    model = build_model(ModelConfig(num_classes=NUM_CLASSES, variant=variant))
    with pytest.raises(ConfigError, match="needs offline flow"):
        model(_inputs()[0])
    with pytest.raises(ValueError, match="flow must have shape"):
        model(_inputs()[0], torch.zeros(2, 3, 2, 64, 32))


def test_single_frame_clip_is_rejected():
    model = build_model(ModelConfig(num_classes=NUM_CLASSES))
    with pytest.raises(ValueError, match="at least 2 frames"):
        model(torch.rand(1, 1, 3, 128, 64))


@pytest.mark.parametrize(
    ("field", "value", "listed"),
    [
        ("variant", "amocc", "'amoc_offline'"),
        ("fusion", "mean", "'concat', 'sum', 'max'"),
        ("fusion_layer", "pool4", "'tanh1', 'pool1'"),
        ("pooling", "sum", "'avg', 'max'"),
        ("embedding", 0, "an integer in [8, 4096]"),
        ("num_classes", 2.5, "integer"),
        ("motion_width", -1.0, "(0, 4]"),
        ("dropout", 1.0, "[0, 1)"),
        ("spatial_filters", (16, 32), "a list of 3 integers"),
        ("spatial_stride", 3, "an integer in [1, 2]"),
        ("colour", "hsv", "'rgb', 'yuv'"),
    ],
)
def test_config_validation_names_field_and_valid_values(field, value, listed):
    kwargs = {"num_classes": NUM_CLASSES, field: value}
    with pytest.raises(ConfigError, match=f"ModelConfig.{field}") as err:
        ModelConfig(**kwargs)
    assert listed in str(err.value)


def test_config_is_frozen_and_round_trips_through_a_dict():
    cfg = ModelConfig(num_classes=NUM_CLASSES, spatial_filters=(8, 8, 8))
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.variant = "rcn"
    plain = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()}
    assert ModelConfig.from_dict(plain) == cfg
    with pytest.raises(ConfigError, match="unknown ModelConfig key"):
        ModelConfig.from_dict({**plain, "widht": 1.0})
    with pytest.raises(ConfigError, match="num_classes is required"):
        ModelConfig.from_dict({"variant": "amoc"})


def test_size_and_cost_grow_with_motion_width():
    narrow = ModelConfig(num_classes=NUM_CLASSES)
    paper = ModelConfig(num_classes=NUM_CLASSES, motion_width=1.0)
    assert count_parameters(build_model(paper)) > count_parameters(build_model(narrow))
    assert gflops_per_pair(paper) > gflops_per_pair(narrow) > 0


def test_channels_last_and_bf16_autocast_run():
    model = build_model(ModelConfig(num_classes=NUM_CLASSES)).to(memory_format=torch.channels_last)
    frames, _ = _inputs(b=1, t=2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(frames)
    out.features.float().sum().backward()
    assert torch.isfinite(out.features.float()).all()


@pytest.mark.parametrize("fusion", ["concat", "max"])
@pytest.mark.parametrize("stage", ["1", "2", "3"])
def test_fusion_at_tanh_is_the_function_at_pool_that_the_plan_trains_once(fusion: str,
                                                                          stage: str) -> None:
    """canonical_fusion renames concat/max at tanhN to poolN: same parameters, same outputs."""
    values = {"num_classes": 3, "variant": "amoc_offline", "fusion": fusion,
              "fusion_layer": f"tanh{stage}", "embedding": 16, "fc_dim": 16,
              "spatial_filters": [4, 8, 8], "dropout": 0.0}
    assert canonical_fusion(values)["fusion_layer"] == f"pool{stage}"
    assert canonical_fusion({**values, "fusion": "sum"})["fusion_layer"] == f"tanh{stage}"
    torch.manual_seed(0)
    at_tanh = build_model(ModelConfig.from_dict(values)).eval()
    torch.manual_seed(0)
    at_pool = build_model(ModelConfig.from_dict(canonical_fusion(values))).eval()
    frames, flow = torch.rand(2, 4, 3, 128, 64), torch.randn(2, 3, 2, 64, 32)
    assert torch.allclose(at_tanh(frames, flow).features, at_pool(frames, flow).features,
                          atol=1e-6)
