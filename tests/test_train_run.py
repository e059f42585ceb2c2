"""The train CLI: checkpoints, exact resumption, config checks, motion-net initialisation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from test_train_toy import build_toy, tiny_model_config

from amoc.atomic import move_checksummed
from amoc.errors import CheckpointError, ConfigError
from amoc.models import MotionNet
from amoc.train.checkpoint import load_model, read_checkpoint, save_checkpoint
from amoc.train.run import main

TRAIN = {"mode": "batched", "batch_pairs": 2, "seq_len": 5, "epochs": 2, "seed": 3,
         "optimizer": "sgd", "lr": 0.01, "checkpoint_every": 1}


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_toy(tmp_path_factory.mktemp("toy"))


def _train(toy: dict, out: Path, model: dict | None = None, **train) -> list[str]:
    argv = ["--cache", str(toy["cache"]), "--split", str(toy["split"]),
            "--model-config", json.dumps(model or tiny_model_config(3, dropout=0.5)),
            "--train-config", json.dumps({**TRAIN, **train}), "--out", str(out)]
    assert main(argv) == 0
    return argv


def test_resume_is_bit_identical_to_an_uninterrupted_run(toy: dict, tmp_path: Path) -> None:
    full = tmp_path / "full.pt"
    _train(toy, full)
    # "interrupt" after epoch 1: a 1-epoch run's checkpoint becomes the partial of a 2-epoch run
    _train(toy, tmp_path / "one.pt", epochs=1)
    move_checksummed(tmp_path / "one.pt", tmp_path / "resumed.pt.partial")
    _train(toy, tmp_path / "resumed.pt")
    assert not (tmp_path / "resumed.pt.partial").exists()
    a = read_checkpoint(full, "amoc-model")
    b = read_checkpoint(tmp_path / "resumed.pt", "amoc-model")
    assert a["epoch"] == b["epoch"] == 2
    for key, value in a["model_state"].items():
        assert torch.equal(value, b["model_state"][key]), key
    assert [h["loss"] for h in a["history"]] == [h["loss"] for h in b["history"]]


def test_checkpoint_is_self_describing(toy: dict, tmp_path: Path) -> None:
    out, log_json = tmp_path / "m.pt", tmp_path / "m.json"
    argv = _train(toy, out, epochs=1)
    main([*argv, "--log-json", str(log_json)])
    payload = read_checkpoint(out, "amoc-model")
    for key in ("optimizer", "rng", "train_config", "seed", "device", "library_versions",
                "train_seconds", "code_version", "model_config"):
        assert key in payload, key
    assert payload["train_seconds"] > 0 and payload["seed"] == 3
    model = load_model(out)
    assert not model.training
    out_ = model(torch.rand(2, 3, 3, 128, 64))
    assert out_.features.shape == (2, 16)
    metrics = json.loads(log_json.read_text())
    assert len(metrics["epochs"]) == 1 and metrics["pairs_per_epoch"] == 6


def test_partial_from_another_model_config_is_set_aside(toy: dict, tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    _train(toy, tmp_path / "one.pt", epochs=1)
    move_checksummed(tmp_path / "one.pt", tmp_path / "other.pt.partial")
    with caplog.at_level("WARNING", logger="amoc.train.checkpoint"):
        _train(toy, tmp_path / "other.pt", model=tiny_model_config(3, embedding=8))
    assert re.search(r"set aside .*other\.pt\.partial.*embedding: checkpoint 16", caplog.text)
    assert len(list(tmp_path.glob("other.pt.partial.stale-*"))) == 2  # kept, with its checksum
    assert read_checkpoint(tmp_path / "other.pt", "amoc-model")["model_config"]["embedding"] == 8


def test_num_classes_must_match_the_split(toy: dict, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="num_classes = 5"):
        _train(toy, tmp_path / "x.pt", model=tiny_model_config(5))


def test_num_classes_defaults_to_the_split(toy: dict, tmp_path: Path) -> None:
    model = tiny_model_config(3)
    del model["num_classes"]
    _train(toy, tmp_path / "x.pt", model=model, epochs=1)
    assert read_checkpoint(tmp_path / "x.pt", "amoc-model")["model_config"]["num_classes"] == 3


def test_offline_flow_variant_needs_the_flow_store(toy: dict, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--flow-store"):
        _train(toy, tmp_path / "x.pt", model=tiny_model_config(3, variant="rcn"))


def test_motion_init_loads_weights_and_checks_width_and_colour(toy: dict, tmp_path: Path) -> None:
    net = MotionNet(0.125)
    motion = tmp_path / "motion.pt"
    save_checkpoint(motion, kind="motion-net", model=net,
                    model_config={"width": 0.125, "colour": "rgb"})
    model_cfg = tiny_model_config(3, variant="amoc")
    out = tmp_path / "e2e.pt"
    argv = _train(toy, out, model=model_cfg, epochs=1, lr=1e-9, grad_clip=0.0)
    out.unlink()
    assert main([*argv, "--motion-init", str(motion)]) == 0
    state = read_checkpoint(out, "amoc-model")["model_state"]
    w = net.state_dict()["predict_flow3.weight"]
    torch.testing.assert_close(state["motion_net.predict_flow3.weight"], w, atol=1e-6, rtol=0)
    wide = tmp_path / "wide.pt"
    save_checkpoint(wide, kind="motion-net", model=MotionNet(0.25),
                    model_config={"width": 0.25, "colour": "rgb"})
    out.unlink()
    with pytest.raises(CheckpointError, match="width 0.25"):
        main([*argv, "--motion-init", str(wide)])
    yuv = tmp_path / "yuv.pt"
    save_checkpoint(yuv, kind="motion-net", model=net, model_config={"width": 0.125, "colour": "yuv"})
    with pytest.raises(CheckpointError, match="colour 'yuv'"):
        main([*argv, "--motion-init", str(yuv)])
