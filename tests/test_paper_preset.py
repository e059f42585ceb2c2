"""config/paper.yaml resolves, for every job it plans, to the settings the paper fixes
(tests/paper_settings.py), read through the same config classes the CLIs build."""

from __future__ import annotations

import pytest
import yaml

from amoc.config import EvalConfig, TrainConfig
from amoc.experiments import plan, pretrain_source
from amoc.plugins import is_plugin
from amoc.report.reference import load_reference
from amoc.variants import VARIANTS
from tests.paper_settings import PAPER_SETTINGS as PAPER
from tests.test_experiments import PAPER as PAPER_YAML
from tests.test_experiments import paper_config


@pytest.fixture(scope="module")
def resolved() -> dict:
    config = paper_config()
    return {"config": config, "plan": plan(config)}


def test_settings_agree_with_the_paper_reference_file() -> None:
    protocol = load_reference()["protocol"]
    assert PAPER["eval"]["test_lengths"] == [protocol["test_length"]]
    assert PAPER["train"]["seq_len"] == protocol["train_length"]
    assert PAPER["splits"] == protocol["splits"]
    fig6 = load_reference()["figures"]["fig6"]
    assert PAPER["fig6a_test_lengths"] == fig6["a_sequence_length"]["test_lengths"]
    assert [PAPER["fig6c_margins"][0], PAPER["fig6c_margins"][-1]] == fig6["c_margin"][
        "margin_range"]


def test_preset_is_the_paper_one(resolved) -> None:
    assert yaml.safe_load(PAPER_YAML.read_text())["preset"] == resolved["config"]["preset"] == \
        PAPER["preset"]


def test_every_training_job_uses_the_paper_schedule(resolved) -> None:
    jobs = resolved["plan"].train_jobs.values()
    margins = set()
    for job in jobs:
        train = TrainConfig.from_dict(job.train)  # what amoc.train.run builds from the job
        expected = {**PAPER["train"], "epochs": PAPER["epochs_mars"] if job.dataset == "mars"
                    else PAPER["train"]["epochs"]}
        for key, value in expected.items():
            if key == "margin":
                margins.add(train.margin)
                continue
            assert getattr(train, key) == value, (job.dataset, job.model, key)
        assert train.pairs_per_step == 1  # paper mode: one pair per step
        if not is_plugin(job.model):  # the plug-in row (Table I) has no motion net
            assert job.model["motion_width"] == PAPER["model"]["motion_width"]
    # every margin is the paper's 2 except Fig. 6(c)'s sweep of 1..10
    assert margins == {float(m) for m in PAPER["fig6c_margins"]}
    default = [j for j in jobs if TrainConfig.from_dict(j.train).margin != PAPER["train"]["margin"]]
    fig6c = {m.train_hash for m in resolved["plan"].members if m.experiment == "fig6c"}
    assert {j.train_hash for j in default} <= fig6c


def test_every_evaluation_uses_the_paper_protocol(resolved) -> None:
    fig6a = {m.eval_hash for m in resolved["plan"].members if m.experiment == "fig6a"}
    for job in resolved["plan"].eval_jobs.values():
        cfg = EvalConfig.from_dict(job.eval)  # what amoc.eval.evaluate builds from the job
        assert cfg.tta == PAPER["eval"]["tta"]
        assert (cfg.probe_frames, cfg.gallery_frames) == (PAPER["eval"]["probe_frames"],
                                                          PAPER["eval"]["gallery_frames"])
        lengths = PAPER["fig6a_test_lengths"] if job.eval_hash in fig6a else \
            PAPER["eval"]["test_lengths"]
        assert list(cfg.test_lengths) == lengths


def test_motion_nets_are_pretrained_once_on_ilidsvid_with_the_paper_schedule(resolved) -> None:
    config = resolved["config"]
    with_motion = [j for j in resolved["plan"].train_jobs.values()
                   if not is_plugin(j.model) and VARIANTS[j.model["variant"]].has_motion_net]
    assert {j.dataset for j in with_motion} == {"ilidsvid", "prid2011", "mars"}
    for dataset in ("ilidsvid", "prid2011", "mars"):
        source = pretrain_source(config, dataset)
        for key, value in PAPER["pretrain"].items():
            assert source[key] == value, (dataset, key)


def test_every_experiment_averages_the_paper_s_splits(resolved) -> None:
    for member in resolved["plan"].members:
        assert member.splits == PAPER["splits"][member.dataset], member
    grids = {m.experiment: set() for m in resolved["plan"].members}
    for m in resolved["plan"].members:
        job = resolved["plan"].train_jobs[m.train_hash]
        grids[m.experiment].add(job.model["embedding"] if m.experiment == "fig6d" else None)
    assert grids["fig6d"] == set(PAPER["fig6d_embeddings"])
