"""Reliability: a SIGKILLed training resumes to the same model; runs are reproducible by seed.

Library level: `python -m amoc.train.run` / `python -m amoc.eval.evaluate` as subprocesses on a tiny
synthwalk cache built by the data modules. Workflow level: see test_reliability_workflow.py.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from amoc.eval.evaluate import main as evaluate_main
from amoc.train.checkpoint import read_checkpoint
from tests.faults import (
    ENV,
    METRIC_COLUMNS,
    build_synthwalk_data,
    eval_cmd,
    finish_all,
    kill_group,
    metrics_of,
    start_all,
    train_cmd,
    wait_for,
)
from tests.metric_checks import assert_single_match_rows

EPOCHS = 6
LENGTHS = [1, 4, 8]


def model_config(num_classes: int) -> dict:
    """A fast model; dropout > 0 so resumption must restore the torch RNG exactly."""
    return {"num_classes": num_classes, "variant": "amoc_nomotion", "embedding": 16,
            "fc_dim": 16, "motion_width": 0.125, "spatial_filters": [4, 8, 8], "dropout": 0.5}


def train_config(seed: int) -> dict:
    """Augmentation on (numpy RNG), a checkpoint after every epoch."""
    return {"mode": "batched", "batch_pairs": 2, "seq_len": 6, "epochs": EPOCHS, "seed": seed,
            "optimizer": "sgd", "lr": 0.01, "checkpoint_every": 1, "device": "cpu",
            "amp": False}


def _evaluate(data: dict, model: Path, out: Path) -> None:
    """The evaluate CLI's main in-process (one torch import for all four evaluations)."""
    assert evaluate_main(eval_cmd(data, model, out, LENGTHS)[3:]) == 0


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Train A (seed 3) twice, B (seed 4) once, and K (seed 3) killed after its first checkpoint
    then rerun with the same command; evaluate all four. Returns paths and the kill record."""
    root = tmp_path_factory.mktemp("resume")
    data = build_synthwalk_data(root, n_ids=10, min_len=10, max_len=14, min_frames=8)
    mcfg = model_config(data["n_train"])
    models = {name: root / f"{name}.pt" for name in ("a", "a2", "b", "k")}
    cmds = {name: train_cmd(data, path, mcfg, train_config(4 if name == "b" else 3))
            for name, path in models.items()}
    killed = root / "k.pt.partial"
    proc = subprocess.Popen(cmds["k"], env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    others = start_all([cmds["a"], cmds["b"]])
    # its checksum is written just after it: wait for both, so the kill leaves a usable partial
    saw_partial = wait_for(Path(f"{killed}.sha256").is_file, timeout=180, proc=proc)
    kill_group(proc)
    kill = {"saw_partial": saw_partial, "returncode": proc.returncode,
            "final_existed": models["k"].exists(),
            "partial_epoch": read_checkpoint(killed, "amoc-model")["epoch"] if killed.is_file()
            else None,
            "leftovers": sorted(p.name for p in root.iterdir() if p.name.startswith(".k.pt"))}
    others += start_all([cmds["k"], cmds["a2"]])
    results = finish_all(others)
    for result in results:
        assert result.returncode == 0, result.stderr[-3000:]
    rows = {name: root / f"{name}.parquet" for name in models}
    for name, model in models.items():
        _evaluate(data, model, rows[name])
    return {"data": data, "models": models, "rows": rows, "kill": kill,
            "resume_log": results[2].stderr}


def _states(path: Path) -> dict[str, torch.Tensor]:
    return read_checkpoint(path, "amoc-model")["model_state"]


def test_sigkill_after_a_checkpoint_leaves_only_the_partial(runs: dict) -> None:
    kill = runs["kill"]
    assert kill["saw_partial"], "no <out>.partial appeared before the run ended"
    assert kill["returncode"] == -9, "the run finished before it could be killed; raise EPOCHS"
    assert not kill["final_existed"], "a killed run must not leave a final model"
    assert 1 <= kill["partial_epoch"] < EPOCHS
    # os.replace makes the partial appear whole; a kill mid-write may leave a hidden temp file
    # (.k.pt.partial.*.tmp), which is never mistaken for a checkpoint.
    assert all(name.endswith(".tmp") for name in kill["leftovers"]), kill["leftovers"]


def test_rerun_resumes_from_the_partial(runs: dict) -> None:
    assert f"resumed {runs['models']['k']}.partial at epoch {runs['kill']['partial_epoch']}" \
        in runs["resume_log"]
    assert not Path(f"{runs['models']['k']}.partial").exists()
    assert read_checkpoint(runs["models"]["k"], "amoc-model")["epoch"] == EPOCHS


def test_resumed_model_is_identical_to_an_uninterrupted_one(runs: dict) -> None:
    resumed, full = _states(runs["models"]["k"]), _states(runs["models"]["a"])
    assert resumed.keys() == full.keys()
    for key, value in full.items():
        assert torch.equal(value, resumed[key]), key
    a = read_checkpoint(runs["models"]["a"], "amoc-model")["history"]
    k = read_checkpoint(runs["models"]["k"], "amoc-model")["history"]
    assert [h["loss"] for h in a] == [h["loss"] for h in k]
    assert metrics_of(runs["rows"]["k"]).equals(metrics_of(runs["rows"]["a"]))


def test_same_seed_twice_gives_identical_results(runs: dict) -> None:
    for key, value in _states(runs["models"]["a"]).items():
        assert torch.equal(value, _states(runs["models"]["a2"])[key]), key
    assert metrics_of(runs["rows"]["a"]).equals(metrics_of(runs["rows"]["a2"]))


def test_other_seed_gives_different_but_valid_results(runs: dict) -> None:
    a, b = metrics_of(runs["rows"]["a"]), metrics_of(runs["rows"]["b"])
    assert not a.equals(b)
    assert any(not torch.equal(v, _states(runs["models"]["b"])[k])
               for k, v in _states(runs["models"]["a"]).items())
    cmc = b[[f"cmc_{k}" for k in range(1, 21)]].to_numpy()
    assert np.isfinite(cmc).all() and ((cmc >= 0) & (cmc <= 1)).all()
    assert (b["n_query"] == b["n_gallery"]).all()
    assert_single_match_rows(b, n_query=int(b["n_query"].iloc[0]), protocol="official")


def test_every_row_carries_its_provenance(runs: dict) -> None:
    import pandas as pd

    rows = {name: pd.read_parquet(path) for name, path in runs["rows"].items()}
    for name, frame in rows.items():
        for column in ("seed", "config_hash", "code_version", "library_versions",
                       *METRIC_COLUMNS):
            assert column in frame.columns, f"{name}: no {column} column"
            assert frame[column].notna().all(), f"{name}: empty {column}"
        versions = frame["library_versions"].iloc[0]
        versions = json.loads(versions) if isinstance(versions, str) else dict(versions)
        assert {"python", "torch", "numpy"} <= set(versions), versions
        assert versions["torch"] == torch.__version__
        assert frame["code_version"].str.len().gt(0).all()
    assert rows["a"]["seed"].eq(3).all() and rows["b"]["seed"].eq(4).all()
    assert rows["a"]["config_hash"].iloc[0] == rows["a2"]["config_hash"].iloc[0] \
        == rows["k"]["config_hash"].iloc[0]
    assert rows["b"]["config_hash"].iloc[0] != rows["a"]["config_hash"].iloc[0]
