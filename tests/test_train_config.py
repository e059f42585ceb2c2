"""TrainConfig / EvalConfig / PretrainConfig: defaults, validation messages, round trips."""

from __future__ import annotations

import pytest

from amoc.config import EvalConfig, PretrainConfig, TrainConfig
from amoc.errors import ConfigError


def test_defaults_follow_the_paper_and_baseline() -> None:
    cfg = TrainConfig.from_dict({})
    assert (cfg.mode, cfg.lr, cfg.optimizer, cfg.momentum, cfg.grad_clip) == (
        "paper", 1e-3, "sgd", 0.9, 5.0)
    assert (cfg.seq_len, cfg.margin, cfg.translate, cfg.flip) == (16, 2.0, 0.05, True)
    assert cfg.pairs_per_step == 1
    assert TrainConfig.from_dict({"mode": "batched", "batch_pairs": 8}).pairs_per_step == 8
    assert EvalConfig.from_dict(None).test_lengths == (128,)
    pre = PretrainConfig.from_dict({})
    assert (pre.batch_pairs, pre.lr, pre.halve_after, pre.halve_every) == (4, 1e-4, 20000, 10000)
    assert pre.flow_scale == 1.0


@pytest.mark.parametrize(("cls", "values", "needle"), [
    (TrainConfig, {"mode": "fast"}, "TrainConfig.mode"),
    (TrainConfig, {"lr": 0}, "(0, 10]"),
    (TrainConfig, {"seq_len": 1}, "TrainConfig.seq_len"),
    (TrainConfig, {"epochs": 2.5}, "an integer"),
    (TrainConfig, {"flip": "yes"}, "true or false"),
    (TrainConfig, {"amp": 1}, "true or false"),
    (EvalConfig, {"test_lengths": [0, 4]}, "EvalConfig.test_lengths"),
    (EvalConfig, {"test_lengths": []}, "non-empty"),
    (EvalConfig, {"tta": "crops"}, "'crops8_flip'"),
    (PretrainConfig, {"batch_pairs": 0}, "PretrainConfig.batch_pairs"),
    (PretrainConfig, {"flow_scale": 0}, "PretrainConfig.flow_scale"),
])
def test_bad_values_name_the_key_and_the_range(cls, values, needle) -> None:
    with pytest.raises(ConfigError, match=r"allowed") as err:
        cls.from_dict(values)
    assert needle in str(err.value)


def test_unknown_key_lists_valid_keys() -> None:
    with pytest.raises(ConfigError, match="unknown TrainConfig key.*'lrate'.*'lr'"):
        TrainConfig.from_dict({"lrate": 0.1})


def test_round_trip_and_frozen() -> None:
    cfg = EvalConfig.from_dict({"test_lengths": [128, 1, 16], "tta": "flip"})
    assert cfg.test_lengths == (1, 16, 128)
    assert EvalConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.to_dict()["test_lengths"] == [1, 16, 128]
    with pytest.raises(AttributeError):
        cfg.tta = "none"  # type: ignore[misc]
