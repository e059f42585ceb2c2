"""The Snakemake workflow: lint, the paper preset's full DAG, a tiny real run, and re-run rules."""

from __future__ import annotations

import json
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


def test_lint_is_clean():
    result = snakemake(REPO_ROOT, "--lint")
    assert result.returncode == 0, result.stdout + result.stderr


def test_paper_preset_dry_run_builds_the_full_dag():
    result = snakemake(REPO_ROOT, "-n", "--configfile", "config/paper.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = planned_jobs(result)
    # 2 real datasets x 10 splits + MARS's fixed split; every table/figure experiment.
    assert jobs["split"] == 21
    assert jobs["fetch"] == 2 and jobs["index"] == 3 and jobs["cache"] == 3
    # on iLIDS-VID's training persons of each split, per flow method (PRID-2011 and MARS reuse
    # split 0's: pretrain.persons: train keeps every test person out of pre-training)
    assert jobs["pretrain_motion"] == 2 * 10
    assert jobs["table"] == 4 and jobs["figure"] == 4 and jobs["collect"] == 8
    assert jobs["train"] > 700 and jobs["evaluate"] >= jobs["train"]


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
        jobs = planned_jobs(snakemake(tiny_run, "-n"))
    finally:
        (tiny_run / "config" / "config.yaml").write_text(yaml.safe_dump(TINY))
    # claims reads every experiment's rows, so it reruns too.
    assert jobs == {"train": 2, "evaluate": 2, "collect": 1, "table": 1, "cmc_figure": 1,
                    "curves": 1, "claims": 1, "all": 1}


@pytest.mark.slow
def test_changing_one_split_reruns_only_that_split(tiny_run):
    split1 = tiny_run / "results" / "splits" / "synthwalk" / "split1.json"
    record = json.loads(split1.read_text())
    record["train_pids"][0], record["test_pids"][0] = record["test_pids"][0], record["train_pids"][0]
    split1.write_text(json.dumps(record))  # one person moved across: an edited split
    jobs = planned_jobs(snakemake(tiny_run, "-n"))
    # table1's three models on split 1 only, split 1's motion-net pre-training (on that split's
    # training persons), table1's curves and the claims table; fig6a uses split 0 and is
    # untouched, and so are the ranked figures (split 0).
    assert jobs == {"train": 3, "evaluate": 3, "collect": 1, "table": 1, "cmc_figure": 1,
                    "pretrain_motion": 1, "curves": 1, "claims": 1, "all": 1}
