"""The Snakemake workflow: lint, the paper preset's full DAG, a tiny real run, and re-run rules."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.child_env import child_env
from tests.conftest import REPO_ROOT

SNAKEMAKE = [sys.executable, "-m", "snakemake"]

TINY = {
    "seed": 0,
    "datasets": {
        "synthwalk": {
            "source": "synthwalk",
            "synthwalk": {"n_ids": 8, "min_len": 12, "max_len": 16, "seed": 0, "twin_fraction": 0.5},
            "n_splits": 2,
            "min_frames": 8,
        }
    },
    "flow_methods": ["lk"],
    # persons: train (the default) pre-trains per split on its 4 training persons (8 tracklets)
    "pretrain": {"dataset": "synthwalk", "iterations": 4, "batch_pairs": 2, "lr": 1e-4,
                 "halve_after": 20000, "halve_every": 10000, "heldout_tracklets": 2},
    "model": {"variant": "amoc", "fusion": "concat", "fusion_layer": "pool2", "pooling": "avg",
              "embedding": 32, "motion_width": 0.125, "dropout": 0.6},
    "flow": "lk",
    "train": {"mode": "batched", "epochs": 1, "lr": 1e-3, "optimizer": "sgd", "batch_pairs": 4,
              "seq_len": 8, "margin": 2.0, "checkpoint_every": 1},
    "eval": {"test_lengths": [8], "tta": "none", "protocol": "official"},
    "experiments": {
        "table1": {"kind": "table1", "datasets": ["synthwalk"], "splits": 2, "variants": {
            "baseline_lk": {"model": {"variant": "rcn"}, "flow": "lk"},
            "amoc_nomotion": {"model": {"variant": "amoc_nomotion"}},
            "amoc_e2e_lk": {"model": {"variant": "amoc"}, "flow": "lk"},
        }},
        "table4": {"kind": "table4", "datasets": [], "variants": {"amoc_e2e_epic": {}}},
        "fig6a": {"kind": "fig6a", "datasets": ["synthwalk"], "splits": 1,
                  "base": {"eval": {"test_lengths": [1, 4]}},
                  "variants": {"amoc_e2e_lk": {}}},
    },
}


def snakemake(workdir: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([*SNAKEMAKE, *args], cwd=workdir, env=child_env(), capture_output=True,
                          text=True, timeout=timeout, check=False)


def copy_workflow(dest: Path, config: dict) -> Path:
    """A private copy of the workflow with its own config and results/ folder."""
    shutil.copy(REPO_ROOT / "Snakefile", dest / "Snakefile")
    shutil.copytree(REPO_ROOT / "workflow", dest / "workflow")
    shutil.copytree(REPO_ROOT / "envs", dest / "envs")
    (dest / "config").mkdir()
    shutil.copy(REPO_ROOT / "config" / "config.schema.yaml", dest / "config")
    (dest / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    return dest


def planned_jobs(result: subprocess.CompletedProcess) -> dict[str, int]:
    """Job counts from the 'Job stats' table of a dry run."""
    counts: dict[str, int] = {}
    text = result.stdout + result.stderr
    block = text.split("Job stats:")[1].split("total")[0] if "Job stats:" in text else ""
    for line in block.splitlines():
        match = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if match:
            counts[match.group(1)] = int(match.group(2))
    return counts


def planned_wildcards(result: subprocess.CompletedProcess, rule: str) -> list[dict[str, str]]:
    """The wildcards of every job of `rule` that a dry run lists (one dict per job)."""
    text = result.stdout + result.stderr
    jobs = []
    for block in re.split(r"^rule ", text, flags=re.MULTILINE)[1:]:
        if block.startswith(f"{rule}:"):
            match = re.search(r"^\s+wildcards: (.+)$", block, flags=re.MULTILINE)
            jobs.append(dict(kv.split("=", 1) for kv in match.group(1).split(", ")))
    return jobs


# The paper preset's DAG (config/paper.yaml over config/config.yaml), job by job: a
# de-duplication bug that adds or drops a single training shows up here. Counted from the plan:
# 701 trainings = sum over distinct trained models of the (split, seed) trainings they are needed
# on (1 seed here): 841 before concat and max at tanhN were trained once as poolN (2 x 3 cells x
# 2 datasets x 10 splits = 120 fewer) and the example plug-in (tap_plugin, 20) left the preset.
# With lockstep (max_models 10) they are 70 jobs of a variant's 10 splits (train_lockstep1) and
# MARS's one split (train_lockstep0). pretrain_motion: 10 iLIDS-VID splits x (lk, epic) with
# pretrain.persons: train. curves: one per experiment with data; rank1_curves: the same
# (train.milestones: 5); ranked: one per distinct headline model; collect: the 8 paper
# experiments plus ablations (no dataset in this preset).
PAPER_DAG = {"fetch": 2, "index": 3, "cache": 3, "split": 21, "flow": 5, "pretrain_motion": 20,
             "train_lockstep0": 1, "train_lockstep1": 70, "evaluate": 741, "fig5": 3,
             "collect": 9, "cmc_figure": 4, "figure": 4, "table": 4, "claims": 1, "curves": 8,
             "rank1_curves": 8, "ranked": 5, "page": 5, "all": 1}
PAPER_TOTAL = 918


def test_lint_is_clean():
    result = snakemake(REPO_ROOT, "--lint")
    assert result.returncode == 0, result.stdout + result.stderr


def test_paper_preset_dry_run_builds_the_full_dag(tmp_path):
    # the manual downloads are checked at DAG build: stand-ins let the DAG be planned
    (tmp_path / "MARS").mkdir()
    (tmp_path / "prid.zip").touch()
    (tmp_path / "x.yaml").write_text(f"datasets: {{prid2011: {{archive: {tmp_path}/prid.zip}}, "
                                     f"mars: {{root: {tmp_path}/MARS}}}}\n")
    result = snakemake(REPO_ROOT, "-n", "--configfile", "config/paper.yaml", str(tmp_path / "x.yaml"))
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = planned_jobs(result)
    # 2 real datasets x 10 splits + MARS's fixed split; pre-training per iLIDS-VID split and
    # flow method (pretrain.persons: train), reused by PRID-2011 and MARS; every table/figure experiment.
    assert jobs == PAPER_DAG
    assert sum(jobs.values()) == PAPER_TOTAL
    assert re.search(rf"^total\s+{PAPER_TOTAL}$", result.stdout + result.stderr,
                     flags=re.MULTILINE)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """Run the whole tiny DAG for real once; later tests inspect and re-plan it."""
    work = copy_workflow(tmp_path_factory.mktemp("wf"), TINY)
    result = snakemake(work, "--cores", "2")
    assert result.returncode == 0, result.stderr[-5000:]
    return work


@pytest.mark.slow
def test_tiny_run_produces_every_table_and_figure(tiny_run):
    for name in ("table1", "table4"):
        for ext in ("md", "tex", "csv"):
            assert (tiny_run / "results" / "tables" / f"{name}.{ext}").stat().st_size > 0
    for name in ("fig6a", "table1_cmc", "fig5_synthwalk", "table1_curves", "fig6a_curves"):
        for ext in ("png", "pdf"):
            assert (tiny_run / "results" / "figures" / f"{name}.{ext}").stat().st_size > 0
    ranked = sorted((tiny_run / "results" / "figures" / "ranked" / "synthwalk").glob("*.png"))
    assert ranked and all(f.stat().st_size > 0 and f.with_suffix(".pdf").stat().st_size > 0
                          for f in ranked)  # one per distinct headline model
    rows = pd.read_parquet(tiny_run / "results" / "rows" / "table1.parquet")
    assert sorted(rows["variant"].unique()) == ["amoc_e2e_lk", "amoc_nomotion", "baseline_lk"]
    assert sorted(rows["split"].unique()) == [0, 1]
    assert rows["cmc_1"].between(0, 1).all() and (rows["cmc_20"] >= rows["cmc_1"]).all()
    curves = sorted((tiny_run / "results" / "curves" / "train").glob("synthwalk/*/split*.json"))
    assert len(curves) == 6 and all(
        set(e) >= {"loss", "contrastive", "identity", "frame_pairs_per_s"}
        for e in json.loads(curves[0].read_text())["epochs"])
    pretrain = next((tiny_run / "results" / "curves" / "pretrain").rglob("*.json"))
    assert all("heldout_epe" in h for h in json.loads(pretrain.read_text())["history"])
    fig6a = pd.read_parquet(tiny_run / "results" / "rows" / "fig6a.parquet")
    assert sorted(fig6a["test_length"].unique()) == [1, 4]


@pytest.mark.slow
def test_second_run_has_nothing_to_do(tiny_run):
    result = snakemake(tiny_run, "-n")
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


@pytest.mark.slow
def test_changing_one_variant_reruns_only_its_jobs(tiny_run):
    changed = json.loads(json.dumps(TINY))
    changed["experiments"]["table1"]["variants"]["baseline_lk"]["model"]["embedding"] = 16
    (tiny_run / "config" / "config.yaml").write_text(yaml.safe_dump(changed))
    try:
        result = snakemake(tiny_run, "-n")
    finally:
        (tiny_run / "config" / "config.yaml").write_text(yaml.safe_dump(TINY))
    # claims reads every experiment's rows, so it reruns too.
    # page: the HTML pages of Table I and of the claims
    assert planned_jobs(result) == {"train": 2, "evaluate": 2, "collect": 1, "table": 1,
                                    "cmc_figure": 1, "curves": 1, "claims": 1, "page": 2,
                                    "all": 1}
    # One new model (a hash not trained before) on both of table1's splits.
    trained = {m.name for m in (tiny_run / "results/models/synthwalk").iterdir()}
    planned = planned_wildcards(result, "train")
    assert {w["training"] for w in planned} == {"split0", "split1"}
    assert len({w["train_hash"] for w in planned}) == 1
    assert not {w["train_hash"] for w in planned} & trained, planned


@pytest.mark.slow
def test_changing_one_split_reruns_only_that_split(tiny_run):
    split1 = tiny_run / "results" / "splits" / "synthwalk" / "split1.json"
    original, times = split1.read_bytes(), split1.stat()
    record = json.loads(original)
    record["train_pids"][0], record["test_pids"][0] = record["test_pids"][0], record["train_pids"][0]
    split1.write_text(json.dumps(record))  # one person moved across: an edited split
    try:
        result = snakemake(tiny_run, "-n")
    finally:  # the module's run is shared: put the split back, timestamps included
        split1.write_bytes(original)
        os.utime(split1, ns=(times.st_atime_ns, times.st_mtime_ns))
    jobs = planned_jobs(result)
    # table1's three models on split 1 only, split 1's motion-net pre-training (on that split's
    # training persons), table1's curves and the claims table; fig6a uses split 0 and is
    # untouched, and so are the ranked figures (split 0).
    assert jobs == {"train": 3, "evaluate": 3, "collect": 1, "table": 1, "cmc_figure": 1,
                    "pretrain_motion": 1, "curves": 1, "claims": 1, "page": 2, "all": 1}
    table1_models = {m.parent.name for m in (tiny_run / "results/models/synthwalk").glob(
        "*/split1.pt")}
    for rule in ("train", "evaluate"):
        planned = planned_wildcards(result, rule)
        assert {w["training"] for w in planned} == {"split1"}, (rule, planned)
        assert {w["train_hash"] for w in planned} == table1_models, (rule, planned)
    after = snakemake(tiny_run, "-n")
    assert "Nothing to be done" in after.stdout + after.stderr
