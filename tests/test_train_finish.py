"""The train CLI's last steps: the finished model survives a full disk at its last write, and
a diverging loss stops the job naming train.lr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_train_toy import build_toy, tiny_model_config

from amoc.atomic import write_json_atomic
from amoc.train import run as run_module
from amoc.train.checkpoint import read_checkpoint
from amoc.train.guard import DivergenceError
from tests.faults import fill_disk_at_the_curves, no_training

TRAIN = {"mode": "batched", "batch_pairs": 2, "seq_len": 5, "epochs": 2, "seed": 3,
         "optimizer": "sgd", "lr": 0.01, "checkpoint_every": 1}


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_toy(tmp_path_factory.mktemp("toy"))


def _train(toy: dict, out: Path, **train) -> None:
    assert run_module.main([
        "--cache", str(toy["cache"]), "--split", str(toy["split"]),
        "--model-config", json.dumps(tiny_model_config(3)),
        "--train-config", json.dumps({**TRAIN, **train}), "--out", str(out),
        "--log-json", str(out.with_suffix(".json"))]) == 0


def test_full_disk_at_the_curves_write_keeps_the_finished_model(
        toy: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "m.pt"
    partial = fill_disk_at_the_curves(monkeypatch, run_module, lambda: _train(toy, out), out)
    assert not out.exists() and read_checkpoint(partial, "amoc-model")["epoch"] == 2

    monkeypatch.setattr(run_module, "train_one_epoch", no_training)
    assert run_module.write_json_atomic is write_json_atomic
    with caplog.at_level("INFO", logger="amoc.train.run"):
        _train(toy, out)
    assert f"resumed {partial} at epoch 2" in caplog.text
    assert read_checkpoint(out, "amoc-model")["epoch"] == 2 and not partial.exists()
    assert len(json.loads(out.with_suffix(".json").read_text())["epochs"]) == 2


def test_a_loss_grown_by_orders_of_magnitude_stops_training(
        toy: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    losses = iter([1.5, 2.6e12])

    def diverging(*args, **kwargs):
        loss = next(losses)
        return {"loss": loss, "contrastive": loss, "identity": 0.0, "frame_pairs_per_s": 1.0}

    monkeypatch.setattr(run_module, "train_one_epoch", diverging)
    out = tmp_path / "m.pt"
    with pytest.raises(DivergenceError, match=r"epoch 2: loss 2\.6e\+12 \(first epoch 1\.5\); "
                                              r"lower train\.lr \(now 10\)"):
        _train(toy, out, lr=10.0)
    assert not out.exists() and not out.with_suffix(".json").exists()
