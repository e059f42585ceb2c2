"""Real frames flow through every stage, on the real-frame minis of iLIDS-VID and PRID-2011.

reader -> frame cache -> splits -> offline flow (lk, epic) -> motion-net pre-training -> training
(``amoc`` end to end and ``amoc_offline``) -> evaluation rows -> Fig. 5. The minis have 3 persons
x 2 cameras x 20 frames, too few to measure accuracy: the tests check contracts (shapes, dtypes,
files, finite values) and that the offline flow of real frames is not all zero. The split is
hand-written (all 3 persons on both sides) as a standard split file and goes through
``amoc.data.splits`` like a published one. Training, evaluation and Fig. 5 run as the workflow runs
them (``python -m ...``); independent commands run concurrently to keep the module under a minute.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
import pytest
import torch

from amoc.data.cache import FrameCache, build_cache
from amoc.data.readers import read_dataset
from amoc.data.splits import make_splits, write_splits
from amoc.flow.layout import FlowStore, index_fingerprint
from amoc.flow.store import build_flow_store
from amoc.report.fig5 import PretrainedMotion, fig5_panels
from amoc.report.results import COLUMNS, read_rows
from amoc.train import pretrain_motion
from amoc.train.checkpoint import load_model, read_checkpoint
from tests.metric_checks import assert_single_match_rows

REPO_ROOT = Path(__file__).resolve().parents[1]
DATASETS = ("ilidsvid", "prid2011")
FLOW_METHODS = ("lk", "epic")
N_PERSONS, N_FRAMES = 3, 20
N_ROWS = N_PERSONS * 2 * N_FRAMES
# The hand-written split: two training persons (a negative pair exists), one test person (a
# split's training and test persons must be disjoint, amoc.train.inputs.read_split).
N_TRAIN, N_TEST = 2, 1
WIDTH = 0.125
VARIANT_FLOW = {"amoc": "epic", "amoc_offline": "lk"}  # amoc ignores it; fig5 reads epic
PRETRAIN = {"iterations": 4, "batch_pairs": 2, "heldout_tracklets": 1, "checkpoint_every": 2,
            "device": "cpu"}
TRAIN = {"mode": "batched", "batch_pairs": 2, "seq_len": 8, "epochs": 2, "optimizer": "sgd",
         "lr": 0.01, "seed": 0, "device": "cpu"}
EVAL = {"test_lengths": [8, 16], "tta": "none", "device": "cpu"}
# One thread per child: the children run concurrently.
CHILD_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def model_config(variant: str) -> dict:
    """A tiny model of the given variant for the 2 training persons."""
    return {"num_classes": N_TRAIN, "variant": variant, "embedding": 16, "fc_dim": 16,
            "motion_width": WIDTH, "spatial_filters": [4, 8, 8], "dropout": 0.0}


Started = dict[str, tuple[list[str], subprocess.Popen, IO[str]]]


def start_modules(commands: dict[str, list[str]]) -> Started:
    """Start ``python -m <module> <args>`` commands in the background; their logs go to files."""
    started = {}
    for name, argv in commands.items():
        log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed in finish_modules
        proc = subprocess.Popen([sys.executable, "-m", *argv], cwd=REPO_ROOT, env=CHILD_ENV,
                                stdout=log, stderr=subprocess.STDOUT, text=True)
        started[name] = (argv, proc, log)
    return started


def finish_modules(started: Started) -> None:
    """Wait for every started command; fail naming each one that failed, with its log tail."""
    failed = []
    for name, (argv, proc, log) in started.items():
        proc.wait(timeout=300)
        log.seek(0)
        if proc.returncode != 0:
            failed.append(f"{name} (rc {proc.returncode}): {' '.join(argv)}\n"
                          f"{log.read()[-3000:]}")
        log.close()
    assert not failed, "\n\n".join(failed)


@dataclass
class Pipeline:
    """What one dataset's run produced."""

    name: str
    root: Path
    index: pd.DataFrame = field(repr=False)
    cache: Path
    split: Path
    flows: dict[str, Path]
    motion: Path | None = None
    models: dict[str, Path] = field(default_factory=dict)
    rows: dict[str, Path] = field(default_factory=dict)
    fig5: Path | None = None


Pipelines = dict[str, Pipeline]


def prepare(name: str, shared_data: Path, root: Path) -> Pipeline:
    """Index, frame cache, hand-written split and both offline flow stores of one mini."""
    index = read_dataset(name, shared_data / "real-mini")
    cache = build_cache(index, root / "cache", threads=2)
    persons = [f"person_{pid:04d}" for pid in sorted(index["pid"].unique())]
    standard = root / "hand_split.json"
    standard.write_text(json.dumps([{"train": persons[:N_TRAIN], "test": persons[N_TRAIN:]}]))
    (split,) = write_splits(make_splits(index, name, 1, 0, standard=standard), root / "splits")
    flows = {m: build_flow_store(cache, m, root / "flow" / m, threads=2) for m in FLOW_METHODS}
    return Pipeline(name, root, index, cache, split, flows)


def pretrain(p: Pipeline) -> None:
    """A few motion-net pre-training iterations on the epic store (in process, via the CLI)."""
    p.motion = p.root / "motion.pt"
    assert pretrain_motion.main([
        "--cache", str(p.cache), "--flow-store", str(p.flows["epic"]), "--width", str(WIDTH),
        "--colour", "rgb", "--pretrain-config", json.dumps(PRETRAIN), "--split", str(p.split),
        "--out", str(p.motion), "--log-json", str(p.root / "motion.json")]) == 0


def train_commands(p: Pipeline) -> dict[str, list[str]]:
    """``amoc.train.run`` for both variants; amoc starts from the pre-trained motion net."""
    commands = {}
    for variant, method in VARIANT_FLOW.items():
        p.models[variant] = p.root / f"{variant}.pt"
        commands[f"{p.name} train {variant}"] = [
            "amoc.train.run", "--cache", str(p.cache), "--split", str(p.split),
            "--flow-store", str(p.flows[method]), "--model-config",
            json.dumps(model_config(variant)), "--train-config", json.dumps(TRAIN),
            "--out", str(p.models[variant]), "--log-json", str(p.root / f"{variant}.json")]
    commands[f"{p.name} train amoc"] += ["--motion-init", str(p.motion)]
    return commands


def report_commands(p: Pipeline) -> dict[str, list[str]]:
    """``amoc.eval.evaluate`` for both trained models and ``amoc.report.fig5`` (pre-trained net)."""
    commands = {}
    for variant, method in VARIANT_FLOW.items():
        p.rows[variant] = p.root / "rows" / variant / "split0.parquet"
        commands[f"{p.name} evaluate {variant}"] = [
            "amoc.eval.evaluate", "--model", str(p.models[variant]), "--cache", str(p.cache),
            "--split", str(p.split), "--flow-store", str(p.flows[method]),
            "--eval-config", json.dumps(EVAL), "--dataset", p.name, "--experiment", "real_mini",
            "--out", str(p.rows[variant])]
    p.fig5 = p.root / "figures" / f"fig5_{p.name}"
    commands[f"{p.name} fig5"] = [
        "amoc.report.fig5", "--motion-net", str(p.motion), "--cache", str(p.cache),
        "--flow-store", str(p.flows["epic"]), "--split", str(p.split), "--out", str(p.fig5),
        "--pairs", "4"]
    return commands


@pytest.fixture(scope="module")
def prepared(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Pipelines:
    """Both minis up to the offline flow stores."""
    return {name: prepare(name, shared_data, tmp_path_factory.mktemp(name)) for name in DATASETS}


@pytest.fixture(scope="module")
def trained(prepared: Pipelines) -> Pipelines:
    """Both minis through pre-training, training, evaluation and Fig. 5 (independent CLI runs
    go side by side)."""
    training: Started = {}
    for p in prepared.values():  # one dataset trains while the next one pre-trains
        pretrain(p)
        training |= start_modules(train_commands(p))
    finish_modules(training)
    finish_modules(start_modules({k: v for p in prepared.values()
                                  for k, v in report_commands(p).items()}))
    return prepared


@pytest.mark.parametrize("name", DATASETS)
def test_reader_cache_and_split_follow_the_contracts(prepared: Pipelines, name: str) -> None:
    p = prepared[name]
    index = p.index
    assert len(index) == 2 * N_PERSONS and sorted(index["pid"].unique()) == [1, 2, 3]
    assert sorted(index["camid"].unique()) == [0, 1] and (index["n_frames"] == N_FRAMES).all()
    cache = FrameCache(p.cache)
    assert cache.frames.shape == (N_ROWS, 128, 64, 3) and cache.frames.dtype == np.uint8
    assert cache.index["offset"].tolist() == list(range(0, N_ROWS, N_FRAMES))
    assert np.asarray(cache.sequence(0), dtype=np.float32).std() > 10  # textured, not blank
    split = json.loads(p.split.read_text())
    assert split == {"dataset": p.name, "split": 0, "seed": 0,
                     "source": "standard:hand_split.json", "train_pids": [1, 2],
                     "test_pids": [3]}
    (random,) = make_splits(index, p.name, 1, seed=0)  # 3 persons: 1 train, 2 test
    assert random["source"] == "random" and len(random["train_pids"]) == 1
    assert sorted(random["train_pids"] + random["test_pids"]) == [1, 2, 3]


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("method", FLOW_METHODS)
def test_offline_flow_of_real_frames_is_finite_aligned_and_moving(prepared: Pipelines, name: str,
                                                                   method: str) -> None:
    p = prepared[name]
    store = FlowStore(p.flows[method])
    cache = FrameCache(p.cache)
    assert store.meta["method"] == method
    assert store.meta["index_sha256"] == index_fingerprint(cache.index)
    assert store.flow.shape == (N_ROWS, 64, 32, 2) and store.flow.dtype == np.float16
    flow = np.asarray(store.flow, dtype=np.float32).reshape(-1, N_FRAMES, 64, 32, 2)
    assert np.isfinite(flow).all()
    assert not flow[:, -1].any()  # the last frame of every tracklet holds zeros
    magnitude = np.linalg.norm(flow[:, :-1], axis=-1).mean(axis=(2, 3))  # (tracklets, pairs)
    assert (magnitude > 0).mean() > 0.9, magnitude  # real walkers move in (nearly) every pair
    assert magnitude.mean() > 0.05 and np.abs(flow).max() < 32  # pixels of the 64x32 grid


@pytest.mark.parametrize("name", DATASETS)
def test_offline_flow_methods_differ(prepared: Pipelines, name: str) -> None:
    p = prepared[name]
    lk, epic = (np.asarray(FlowStore(p.flows[m]).flow, np.float32) for m in FLOW_METHODS)
    assert np.abs(lk - epic).mean() > 1e-3


@pytest.mark.parametrize("name", DATASETS)
def test_motion_net_pretrained_on_real_flow(trained: Pipelines, name: str) -> None:
    p = trained[name]
    payload = read_checkpoint(p.motion, "motion-net")
    assert payload["model_config"] == {"width": WIDTH, "colour": "rgb"} and payload["iteration"] == 4
    assert all(np.isfinite(h["loss"]) for h in payload["history"])
    log = json.loads((p.root / "motion.json").read_text())
    # the split's training persons only: held-out one tracklet of 19 pairs, training the other 3
    assert log["heldout_pairs"] == N_FRAMES - 1
    assert log["train_pairs"] == (2 * N_TRAIN - 1) * (N_FRAMES - 1)
    assert np.isfinite(log["heldout_epe"]) and log["zero_flow_epe"] > 0
    assert not (p.motion.parent / "motion.pt.partial").exists()


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("variant", sorted(VARIANT_FLOW))
def test_training_writes_a_loadable_finite_model(trained: Pipelines, name: str,
                                                 variant: str) -> None:
    p = trained[name]
    payload = read_checkpoint(p.models[variant], "amoc-model")
    assert payload["epoch"] == TRAIN["epochs"] and payload["model_config"]["variant"] == variant
    assert payload["motion_init"] == (str(p.motion) if variant == "amoc" else None)
    history = json.loads((p.root / f"{variant}.json").read_text())["epochs"]
    assert len(history) == TRAIN["epochs"]
    assert all(np.isfinite(h[k]) for h in history for k in ("loss", "contrastive", "identity"))
    model = load_model(p.models[variant])
    assert all(torch.isfinite(t).all() for t in model.state_dict().values())


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("variant", sorted(VARIANT_FLOW))
def test_evaluation_writes_valid_rows(trained: Pipelines, name: str, variant: str) -> None:
    p = trained[name]
    rows = read_rows([p.rows[variant]])  # validates types and values
    assert set(COLUMNS) <= set(rows.columns)
    assert rows["test_length"].tolist() == EVAL["test_lengths"]
    assert (rows[["experiment", "dataset", "variant"]].drop_duplicates().values.tolist()
            == [["real_mini", p.name, variant]])
    assert (rows["n_query"] == N_TEST).all() and (rows["n_gallery"] == N_TEST).all()
    cmc = rows[[f"cmc_{k}" for k in range(1, 21)]].to_numpy()
    assert np.isfinite(cmc).all() and (np.diff(cmc, axis=1) >= 0).all()
    assert (cmc[:, N_TEST - 1:] == 1).all()  # every true match is within the gallery's items
    assert_single_match_rows(rows, n_query=N_TEST)  # mAP is what the CMC's ranks imply


@pytest.mark.parametrize("name", DATASETS)
def test_fig5_is_drawn_from_real_frames(trained: Pipelines, name: str) -> None:
    p = trained[name]
    png, pdf = (p.fig5.with_suffix(s) for s in (".png", ".pdf"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 10_000
    cache = FrameCache(p.cache)
    flow = FlowStore(p.flows["epic"]).flow
    frames, offline, predicted = fig5_panels(PretrainedMotion(p.motion), cache, flow, 0,
                                             n_pairs=4)
    assert [f.shape for f in frames] == [(128, 64, 3)] * 4
    assert [f.shape for f in offline] == [f.shape for f in predicted] == [(64, 32, 2)] * 4
    assert all(np.isfinite(f).all() for f in predicted) and any(f.any() for f in offline)
