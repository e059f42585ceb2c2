"""Plug-ins by config: import errors at DAG build, contract errors before the first step, the
train hash following the plug-in's file, and the worked TAP example meeting the contract."""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from amoc.errors import ConfigError
from amoc.experiments import load_config, plan, validate_config
from amoc.flow.methods import FLOW_METHODS, compute_flow
from amoc.plugins.flow import register_flow_plugin
from amoc.plugins.model import check_outputs, model_builder, rebuild_model
from tests.conftest import REPO_ROOT

NAMES = (f"user_plugin_{i}" for i in itertools.count())
GOOD = '''
from typing import NamedTuple
import torch
from torch import nn

class Out(NamedTuple):
    features: torch.Tensor
    logits: torch.Tensor

class Net(nn.Module):
    def __init__(self, *, num_classes, embedding=8, logits_extra=0, tuple_out=False):
        super().__init__()
        self.fc = nn.Linear(3, embedding)
        self.cls = nn.Linear(embedding, num_classes + logits_extra)
        self.tuple_out = tuple_out

    def forward(self, frames, flow=None):
        f = self.fc(frames.mean(dim=(1, 3, 4)))
        return (f, self.cls(f)) if self.tuple_out else Out(f, self.cls(f))
'''


def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str = GOOD) -> str:
    """A fresh module in a working directory of its own (imported from the cwd)."""
    name = next(NAMES)
    (tmp_path / f"{name}.py").write_text(text)
    monkeypatch.chdir(tmp_path)
    return name


def with_variant(model: dict) -> dict:
    config = load_config(REPO_ROOT / "config" / "config.yaml")
    config = copy.deepcopy(config)
    config["experiments"] = {"t": {"kind": "table1", "datasets": ["synthwalk"], "splits": 1,
                                   "variants": {"mine": {"model": model}}}}
    return config


@pytest.mark.parametrize(("path", "needle"), [
    ("no_colon_here", "model/class': 'no_colon_here' does not match"),
    ("nonexistent_pkg.mod:Net", "cannot import module 'nonexistent_pkg.mod'"),
])
def test_a_bad_import_path_fails_at_dag_build_naming_the_class(path: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle) as err:
        validate_config(with_variant({"class": path}))
    assert "experiments/t" in str(err.value)


def test_a_missing_attribute_fails_at_dag_build(tmp_path, monkeypatch) -> None:
    name = user_module(tmp_path, monkeypatch)
    with pytest.raises(ConfigError, match=f"'{name}:Nope'.*has no attribute 'Nope'"):
        validate_config(with_variant({"class": f"{name}:Nope"}))


def test_a_plugin_from_the_working_tree_plans_without_amoc_defaults(tmp_path, monkeypatch):
    name = user_module(tmp_path, monkeypatch)
    config = with_variant({"class": f"{name}:Net", "embedding": 4})
    validate_config(config)
    job = next(iter(plan(config).train_jobs.values()))
    assert job.model == {"class": f"{name}:Net", "embedding": 4} and job.flow is None


def test_the_train_hash_follows_the_plugin_file(tmp_path, monkeypatch) -> None:
    from amoc.plugins import source_fingerprint

    name = user_module(tmp_path, monkeypatch)
    config = with_variant({"class": f"{name}:Net"})
    before = next(iter(plan(config).train_jobs))
    (tmp_path / f"{name}.py").write_text(GOOD + "\n# edited\n")
    source_fingerprint.cache_clear()
    assert next(iter(plan(config).train_jobs)) != before


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"logits_extra": 1}, r"\.logits must have shape \(2, 3\).*got \(2, 4\)"),
    ({"tuple_out": True}, r"tensor '\.features'.*got tuple"),
    ({"unknown": 1}, r"calling it with .*unknown"),
])
def test_outputs_breaking_the_contract_fail_before_the_first_step(tmp_path, monkeypatch,
                                                                  kwargs, needle) -> None:
    name = user_module(tmp_path, monkeypatch)
    config, build = model_builder({"class": f"{name}:Net", **kwargs}, num_classes=3)
    with pytest.raises(ConfigError, match=f"model class '{name}:Net'") as err:
        check_outputs(build(), config, seq_len=4, device=torch.device("cpu"))
    assert err.match(needle)


def test_tap_example_meets_the_contract_and_round_trips_a_checkpoint() -> None:
    config, build = model_builder({"class": "examples.tap_baseline:TapNet", "embedding": 16}, 5)
    model = build()
    check_outputs(model, config, seq_len=8, device=torch.device("cpu"))
    rebuilt = rebuild_model({"model_config": config, "model_state": model.state_dict()})
    frames = torch.rand(2, 4, 3, 128, 64)
    torch.testing.assert_close(rebuilt(frames).features, model.eval()(frames).features)


def test_a_flow_plugin_is_registered_and_its_output_checked(tmp_path, monkeypatch) -> None:
    name = user_module(tmp_path, monkeypatch, "import numpy as np\n"
                       "def zero(a, b):\n    return np.zeros((*a.shape[:2], 2), np.float32)\n"
                       "def bad(a, b):\n    return np.zeros((4, 4), np.float32)\n")
    frame = np.zeros((128, 64, 3), np.uint8)
    try:
        register_flow_plugin("zero", f"{name}:zero")
        assert compute_flow("zero", frame, frame).shape == (128, 64, 2)
        register_flow_plugin("bad", f"{name}:bad")
        with pytest.raises(ConfigError, match=r"'.*:bad' breaks the flow contract.*\(4, 4\)"):
            compute_flow("bad", frame, frame)
        register_flow_plugin("cwd", "os:getcwd")  # a callable of another signature
        with pytest.raises(ConfigError, match=r"'os:getcwd' cannot be called as fn\(frame0"):
            compute_flow("cwd", frame, frame)
    finally:
        for name in ("zero", "bad", "cwd"):
            FLOW_METHODS.pop(name, None)


def test_a_flow_plugin_that_does_not_import_fails_at_dag_build() -> None:
    config = with_variant({"variant": "amoc_nomotion"})
    config["flow_methods"] = ["lk", "mine=missing_pkg_xyz:flow"]
    with pytest.raises(ConfigError, match="flow method 'mine'.*missing_pkg_xyz"):
        validate_config(config)


C3D = {"class": "examples.c3d_tiny:C3dTiny", "embedding": 8, "filters": [4]}


def _train_and_evaluate(root: Path, model: dict, variant: str = "mine") -> Path:
    from test_train_toy import build_toy

    from amoc.eval.evaluate import main as evaluate_main
    from amoc.train.run import main as train_main

    toy = build_toy(root)
    common = ["--cache", str(toy["cache"]), "--split", str(toy["split"])]
    ckpt, rows = root / "m.pt", root / "rows.parquet"
    train = {"mode": "batched", "batch_pairs": 2, "seq_len": 4, "epochs": 1, "seed": 1}
    assert train_main([*common, "--model-config", json.dumps(model),
                       "--train-config", json.dumps(train), "--out", str(ckpt)]) == 0
    assert evaluate_main(["--model", str(ckpt), *common, "--out", str(rows), "--dataset", "toy",
                          "--variant", variant,
                          "--eval-config", json.dumps({"test_lengths": [1, 4]})]) == 0
    return rows


def test_a_rank_5_conv3d_plugin_trains_and_evaluates_on_cpu(tmp_path: Path) -> None:
    from amoc.report.results import CMC_COLUMNS, read_rows

    # train.channels_last is on (the default): the plug-in's own memory format must win
    rows = read_rows([_train_and_evaluate(tmp_path, C3D, "c3d")])
    assert rows["test_length"].tolist() == [1, 4] and (rows["variant"] == "c3d").all()
    assert rows[list(CMC_COLUMNS)].notna().all().all() and (rows["n_query"] == 3).all()


def test_a_memory_format_the_weights_cannot_take_names_class_and_step() -> None:
    from amoc.plugins.model import prepare_model
    from examples.c3d_tiny import C3dTiny

    class Wrong(C3dTiny):
        memory_format = "channels_last"

    config, _ = model_builder(C3D, 3)
    with pytest.raises(ConfigError, match=r"training: model 'examples.c3d_tiny:C3dTiny' cannot "
                                          r"be converted.*memory_format"):
        prepare_model(Wrong(num_classes=3, filters=[4]), config, torch.device("cpu"),
                      step="training")
    Wrong.memory_format = "nchw"
    with pytest.raises(ConfigError, match=r"memory_format = 'nchw' is not one of"):
        prepare_model(Wrong(num_classes=3, filters=[4]), config, torch.device("cpu"),
                      step="training")


ODD = GOOD.replace("else Out(f, self.cls(f))", "else Out(f[..., None] if self.training and "
                   "frames.shape[0] == 4 else f, self.cls(f))")  # (B, D, 1) in training at B=4


def test_the_contract_is_checked_on_the_real_batch_in_train_mode(tmp_path, monkeypatch) -> None:
    from amoc.plugins.model import prepare_model

    name = user_module(tmp_path, monkeypatch, ODD)
    config, build = model_builder({"class": f"{name}:Net"}, num_classes=3)
    check_outputs(build(), config, seq_len=4, device=torch.device("cpu"))  # batch 2 passes
    with pytest.raises(ConfigError, match=rf"'{name}:Net'.*training, train mode: \.features "
                                          r"must have shape \(4, D\).*\(4, 8, 1\)"):
        prepare_model(build(), config, torch.device("cpu"), step="training", batch=4)


def test_every_forward_call_is_shape_checked(tmp_path, monkeypatch) -> None:
    from amoc.plugins.model import prepare_model

    name = user_module(tmp_path, monkeypatch, ODD)
    config, build = model_builder({"class": f"{name}:Net"}, num_classes=3)
    model = prepare_model(build(), config, torch.device("cpu"), step="training", batch=2)
    model.train()
    assert model(torch.rand(2, 3, 3, 8, 4)).features.shape == (2, 8)
    with pytest.raises(ConfigError, match=rf"'{name}:Net'.*training forward: \.features"):
        model(torch.rand(4, 3, 3, 8, 4))


def test_the_output_check_leaves_batchnorm_statistics_and_the_rng_alone() -> None:
    config, build = model_builder(C3D, 3)
    model = build()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    state = torch.random.get_rng_state()
    check_outputs(model, config, seq_len=3, device=torch.device("cpu"), batch=4)
    assert torch.equal(state, torch.random.get_rng_state())
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


NAN = GOOD.replace("        return (f, self.cls(f))",
                   "        if not self.training:\n            f = f * float('nan')\n"
                   "        return (f, self.cls(f))")


def test_nan_features_at_evaluation_name_the_variant_and_class(tmp_path, monkeypatch) -> None:
    from amoc.errors import AmocError

    name = user_module(tmp_path, monkeypatch, NAN)
    with pytest.raises(AmocError, match=rf"variant 'nanny' \(class '{name}:Net'\): evaluation at "
                                        r"test length 1 gave NaN"):
        _train_and_evaluate(tmp_path, {"class": f"{name}:Net"}, "nanny")
