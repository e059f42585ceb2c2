"""Rank-1 milestones (learning curves) and the ablation keys: recurrence off, motion net frozen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from test_train_toy import build_toy, tiny_model_config

from amoc.models import ModelConfig
from amoc.models.amoc_net import AmocNet
from amoc.report.rank1_curves import curve_of
from amoc.report.rank1_curves import main as rank1_main
from amoc.report.results import ResultsError
from amoc.train.checkpoint import read_checkpoint
from amoc.train.milestones import milestone_epochs
from amoc.train.run import main

TRAIN = {"mode": "batched", "batch_pairs": 2, "seq_len": 5, "epochs": 3, "seed": 3,
         "optimizer": "adam", "lr": 0.01, "checkpoint_every": 5}


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_toy(tmp_path_factory.mktemp("toy"))


def _train(toy: dict, out: Path, model: dict | None = None, **train) -> dict:
    argv = ["--cache", str(toy["cache"]), "--split", str(toy["split"]),
            "--model-config", json.dumps(model or tiny_model_config(3)),
            "--train-config", json.dumps({**TRAIN, **train}), "--out", str(out),
            "--log-json", str(out.with_suffix(".json"))]
    assert main(argv) == 0
    return read_checkpoint(out, "amoc-model")


def test_milestones_are_log_spaced_and_end_at_the_last_epoch() -> None:
    assert milestone_epochs(1000, 5) == [1, 6, 32, 178, 1000]
    assert milestone_epochs(4, 3) == [1, 2, 4]
    assert milestone_epochs(4, 10) == [1, 2, 3, 4]
    assert milestone_epochs(50, 0) == []


def test_milestones_record_rank1_and_leave_the_trajectory_unchanged(toy: dict,
                                                                    tmp_path: Path) -> None:
    plain = _train(toy, tmp_path / "plain.pt")
    with_curve = _train(toy, tmp_path / "curve.pt", milestones=2)
    for key, value in plain["model_state"].items():
        assert torch.equal(value, with_curve["model_state"][key]), key
    history = json.loads((tmp_path / "curve.json").read_text())["epochs"]
    recorded = {h["epoch"]: h["rank1"] for h in history if "rank1" in h}
    assert sorted(recorded) == [1, 3]
    assert all(0.0 <= r <= 1.0 and (r * 3).is_integer() for r in recorded.values())  # 3 probes


def test_frozen_motion_net_keeps_its_weights_and_the_rest_learns(toy: dict,
                                                                 tmp_path: Path) -> None:
    model = tiny_model_config(3, variant="amoc")
    frozen = _train(toy, tmp_path / "frozen.pt", model=model, freeze_motion=True)
    torch.manual_seed(TRAIN["seed"])  # what the run initialises from
    start = AmocNet(ModelConfig.from_dict(model)).state_dict()
    motion = [k for k in start if k.startswith("motion_net.")]
    assert motion
    for key in motion:
        assert torch.equal(frozen["model_state"][key], start[key]), key
    assert not torch.equal(frozen["model_state"]["classifier.weight"], start["classifier.weight"])
    moving = _train(toy, tmp_path / "moving.pt", model=model)
    assert not all(torch.equal(moving["model_state"][k], start[k]) for k in motion)


def test_recurrence_off_drops_n_and_pools_per_frame_features() -> None:
    cfg = ModelConfig.from_dict(tiny_model_config(3, recurrence=False))
    net = AmocNet(cfg).eval()
    assert net.rnn.recurrent is None
    f = torch.randn(2, 4, net.rnn.input_proj.in_features)
    assert torch.equal(net.rnn(f), net.rnn.input_proj(f))


def _curves(path: Path, rank1: dict[int, float]) -> str:
    epochs = [{"epoch": e, "loss": 1.0} | ({"rank1": rank1[e]} if e in rank1 else {})
              for e in range(1, 5)]
    path.write_text(json.dumps({"epochs": epochs}))
    return str(path)


def test_rank1_curve_figure_averages_trainings(tmp_path: Path) -> None:
    a = [_curves(tmp_path / f"a{k}.json", {1: 0.1 * k, 2: 0.2, 4: 0.3 + 0.1 * k})
         for k in (1, 2)]
    b = [_curves(tmp_path / "b.json", {1: 0.05, 2: 0.1, 4: 0.2})]
    epochs, mean, std = curve_of(a)
    assert epochs.tolist() == [1, 2, 4]
    assert mean == pytest.approx([15.0, 20.0, 45.0]) and std == pytest.approx([5.0, 0.0, 5.0])
    assert rank1_main(["--experiment", "table1", "--member", "x", *a, "--member", "y", *b,
                       "--out", str(tmp_path / "fig")]) == 0
    assert (tmp_path / "fig.png").stat().st_size > 0 and (tmp_path / "fig.pdf").is_file()
    with pytest.raises(ResultsError, match="no milestone epoch common"):
        curve_of([_curves(tmp_path / "c.json", {1: 0.1}), _curves(tmp_path / "d.json", {2: 0.1})])
