"""Lockstep training: K members in one process follow their single runs, resume, and refuse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from test_train_toy import build_toy, tiny_model_config

from amoc.atomic import move_checksummed
from amoc.errors import ConfigError
from amoc.train import lockstep, run
from amoc.train.checkpoint import read_checkpoint

TRAIN = {"mode": "paper", "seq_len": 4, "epochs": 2, "optimizer": "sgd", "lr": 0.01,
         "checkpoint_every": 1, "device": "cpu"}
# Three splits of the 8-person toy: 3, 3 and 4 training persons (classifier sizes and steps
# per epoch differ), seeds differ too.
SPLITS = ([2, 4, 6], [1, 3, 5], [1, 2, 7, 8])
SEEDS = (3, 11, 5)


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("toy")
    paths = build_toy(root, n_ids=8, lengths=(6, 9))
    splits = []
    for k, train in enumerate(SPLITS):
        path = root / f"split{k}.json"
        test = [p for p in range(1, 9) if p not in train]
        path.write_text(json.dumps({"dataset": "toy", "split": k, "seed": 0, "source": "random",
                                    "train_pids": train, "test_pids": test}))
        splits.append(path)
    return {**paths, "splits": splits}


def _model(**kw) -> str:
    model = tiny_model_config(0, **kw)
    del model["num_classes"]  # each split fills in its own
    return json.dumps(model)


def _lockstep(toy: dict, out: Path, model: str, members=range(3), **train) -> list[Path]:
    argv = ["--cache", str(toy["cache"]), "--model-config", model,
            "--train-config", json.dumps({**TRAIN, **train})]
    outs = []
    for k in members:
        outs.append(out / f"m{k}.pt")
        argv += ["--member", str(toy["splits"][k]), str(SEEDS[k]), str(outs[-1]),
                 str(out / f"m{k}.json")]
    assert lockstep.main(argv) == 0
    return outs


def _single(toy: dict, out: Path, k: int, model: str, **train) -> Path:
    path = out / f"single{k}.pt"
    assert run.main(["--cache", str(toy["cache"]), "--split", str(toy["splits"][k]),
                     "--model-config", model, "--train-config",
                     json.dumps({**TRAIN, **train, "seed": SEEDS[k]}), "--out", str(path),
                     "--log-json", str(out / f"single{k}.json")]) == 0
    return path


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return read_checkpoint(path, "amoc-model")["model_state"]


def _assert_close(a: Path, b: Path) -> None:
    """1e-5 relative over all weights; 1e-4 per tensor (near-zero biases are rounding-bound)."""
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert wa[key].shape == wb[key].shape, key
        assert float((wa[key] - wb[key]).norm() / wb[key].norm()) <= 1e-4, key
    flat_a, flat_b = (torch.cat([w[k].flatten() for k in sorted(w)]) for w in (wa, wb))
    assert float((flat_a - flat_b).norm() / flat_b.norm()) <= 1e-5


@pytest.mark.parametrize("mode", [{"mode": "paper"}, {"mode": "batched", "batch_pairs": 4}])
def test_members_follow_their_single_runs(toy: dict, tmp_path: Path, mode: dict) -> None:
    model = _model(variant="amoc", dropout=0.0)
    outs = _lockstep(toy, tmp_path, model, **mode)
    for k, out in enumerate(outs):
        single = _single(toy, tmp_path, k, model, **mode)
        _assert_close(out, single)
        assert _weights(out)["classifier.weight"].shape[0] == len(SPLITS[k])
        mine, theirs = (json.loads(p.read_text()) for p in (tmp_path / f"m{k}.json",
                                                             tmp_path / f"single{k}.json"))
        assert mine.keys() == theirs.keys() and mine["train_config"] == theirs["train_config"]
        assert len(mine["epochs"]) == 2
        for a, b in zip(mine["epochs"], theirs["epochs"], strict=True):
            assert a.keys() == b.keys() and a["pairs"] == b["pairs"]
            assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
        assert not Path(str(out) + ".partial").exists()


def test_dropout_runs_are_deterministic(toy: dict, tmp_path: Path) -> None:
    model = _model(dropout=0.5, recurrent_dropout=0.3)
    first = _lockstep(toy, tmp_path / "a", model)
    second = _lockstep(toy, tmp_path / "b", model)
    for a, b in zip(first, second, strict=True):
        wa, wb = _weights(a), _weights(b)
        assert all(torch.equal(wa[k], wb[k]) for k in wa)


def _interrupt(toy: dict, where: Path, model: str, members=range(3)) -> None:
    """A job killed after epoch 1: its 1-epoch checkpoints become the 2-epoch job's partials."""
    for out in _lockstep(toy, where, model, members=members, epochs=1):
        move_checksummed(out, Path(str(out) + ".partial"))


def test_a_killed_job_resumes_every_member_exactly(toy: dict, tmp_path: Path) -> None:
    model = _model(dropout=0.5)
    straight = _lockstep(toy, tmp_path / "straight", model)
    _interrupt(toy, tmp_path / "resumed", model)
    resumed = _lockstep(toy, tmp_path / "resumed", model)
    for a, b in zip(straight, resumed, strict=True):
        wa, wb = _weights(a), _weights(b)
        assert all(torch.equal(wa[k], wb[k]) for k in wa)
        assert read_checkpoint(b, "amoc-model")["epoch"] == 2


def test_members_behind_catch_up_alone(toy: dict, tmp_path: Path) -> None:
    """Member 0 was checkpointed at epoch 1, the others not: it waits, they catch up."""
    model = _model(dropout=0.0)
    _interrupt(toy, tmp_path, model, members=[0])
    outs = _lockstep(toy, tmp_path, model)
    for k, out in enumerate(outs):
        _assert_close(out, _single(toy, tmp_path, k, model))


def test_shape_changing_differences_are_refused(toy: dict, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="seq_len differs"):
        lockstep.check_members([lockstep.TrainConfig.from_dict({**TRAIN, "seq_len": n})
                                for n in (4, 5)])
    with pytest.raises(ConfigError, match="SPLIT SEED OUT CURVES"):
        lockstep.parse_member(["split.json", "3"])
