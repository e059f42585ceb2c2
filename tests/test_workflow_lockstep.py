"""Lockstep in the workflow: a variant's trainings (splits x seeds) as one job that writes the
ordinary per-training checkpoints, evaluated as usual; the group is the rerun unit."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pandas as pd
import pytest

from amoc.train.checkpoint import read_checkpoint
from tests.test_workflow import TINY, copy_workflow, planned_jobs, snakemake

LOCKSTEP_TINY = copy.deepcopy(TINY)
LOCKSTEP_TINY["lockstep"] = {"enabled": True, "max_models": 40}
LOCKSTEP_TINY["train"]["milestones"] = 2  # rank-1 after the one epoch: the learning-curve rule
LOCKSTEP_TINY["experiments"]["table1"]["seeds"] = 2
LOCKSTEP_TINY["experiments"]["table1"]["variants"] = {
    "amoc_nomotion": {"model": {"variant": "amoc_nomotion"}},
    "amoc_e2e_lk": {"model": {"variant": "amoc"}, "flow": "lk"},
}
del LOCKSTEP_TINY["experiments"]["fig6a"]
TRAININGS = ["split0", "split0_rep1", "split1", "split1_rep1"]


@pytest.fixture(scope="module")
def lockstep_run(tmp_path_factory) -> Path:
    work = copy_workflow(tmp_path_factory.mktemp("lockstep"), LOCKSTEP_TINY)
    result = snakemake(work, "--cores", "2", "results/rows/table1.parquet",
                       "results/figures/table1_rank1.png")
    assert result.returncode == 0, result.stderr[-5000:]
    return work


def test_one_job_per_variant_writes_every_trainings_checkpoint(lockstep_run: Path) -> None:
    logs = sorted((lockstep_run / "results/logs/train").glob("*lockstep*.log"))
    assert len(logs) == 2  # one job per variant, 4 trainings each
    models = sorted((lockstep_run / "results/models/synthwalk").glob("*/*.pt"))
    assert sorted({p.stem for p in models}) == TRAININGS and len(models) == 8
    for path in models:
        payload = read_checkpoint(path, "amoc-model")
        assert payload["seed"] == (1 if path.stem.endswith("_rep1") else 0), path
        assert payload["epoch"] == 1
    rows = pd.read_parquet(lockstep_run / "results/rows/table1.parquet")
    per_variant = rows.groupby("variant")[["split", "seed"]].apply(
        lambda g: sorted(map(tuple, g.to_numpy().tolist())))
    assert all(v == [(0, 0), (0, 1), (1, 0), (1, 1)] for v in per_variant)
    curves = sorted((lockstep_run / "results/curves/train/synthwalk").glob("*/*.json"))
    assert len(curves) == 8
    assert all("rank1" in json.loads(p.read_text())["epochs"][-1] for p in curves)
    assert (lockstep_run / "results/figures/table1_rank1.png").stat().st_size > 10_000


def test_a_changed_split_reruns_its_whole_group(lockstep_run: Path) -> None:
    split1 = lockstep_run / "results/splits/synthwalk/split1.json"
    record = json.loads(split1.read_text())
    record["train_pids"][0], record["test_pids"][0] = record["test_pids"][0], record["train_pids"][0]
    split1.write_text(json.dumps(record))  # one person moved across: an edited split
    result = snakemake(lockstep_run, "-n", "results/rows/table1.parquet")
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = planned_jobs(result)
    # both variants' groups (they hold split 0's trainings too), so all 8 evaluations rerun
    assert jobs["train_lockstep0"] == 2 and jobs["evaluate"] == 8, jobs
