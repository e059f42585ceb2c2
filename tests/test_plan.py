"""`amoc plan`: exact job counts of the paper preset's DAG, a projection monotone in G and k."""

from __future__ import annotations

import pytest

from amoc.experiments import load_config, plan
from amoc.plan import (
    DEFAULT_CONFIG,
    Rates,
    gpu_jobs,
    job_counts,
    load_merged,
    main,
    wall_hours,
)
from tests.conftest import REPO_ROOT
from tests.test_workflow import PAPER_DAG, planned_jobs, snakemake

PAPER = str(REPO_ROOT / "config" / "paper.yaml")


def test_paper_preset_job_counts_are_exact():
    config = load_merged(PAPER)
    counts = job_counts(config, plan(config))
    assert counts == PAPER_DAG and sum(counts.values()) == 1814


def test_counts_agree_with_a_snakemake_dry_run_of_the_default_preset():
    config = load_config(DEFAULT_CONFIG)
    result = snakemake(REPO_ROOT, "-n", "--forceall", timeout=120)  # whatever results/ holds
    assert result.returncode == 0, result.stderr[-2000:]
    assert job_counts(config, plan(config)) == planned_jobs(result)


def test_projection_is_monotone_in_gpus_and_jobs_per_gpu():
    config = load_merged(PAPER)
    p = plan(config)
    jobs = gpu_jobs(config, p, Rates())
    ceiling = Rates().ceiling
    grid = {(g, k): wall_hours(config, p, jobs, g, k, ceiling) for g in (1, 2, 4, 8)
            for k in (1, 2, 4, 8)}
    for (g, k), hours in grid.items():
        assert hours > 0
        if g < 8:
            assert grid[2 * g, k] <= hours
        if k < 8:
            assert grid[g, 2 * k] <= hours
    assert grid[8, 1] < grid[1, 1] / 4 and grid[1, 4] < grid[1, 1] / 2
    # paper mode is 4,200 fp/s per job against a 34,000 ceiling: k beyond ~8 gains nothing
    saturated = wall_hours(config, p, jobs, 1, 16, ceiling)
    assert wall_hours(config, p, jobs, 1, 32, ceiling) == pytest.approx(saturated)


def test_printed_plan_labels_estimates_and_states_the_goals(capsys):
    assert main(["--configfile", PAPER, "--gpus", "8", "--jobs-per-gpu", "4"]) == 0
    out = capsys.readouterr().out
    assert "train               841" in out and "total             1,814" in out
    assert "ESTIMATE" in out and "concurrency model [ESTIMATE]" in out
    assert "1000 epochs x 300 pairs x T=16, paper mode" in out  # iLIDS-VID: 150 training ids
    assert "projected wall time on G=8 GPU(s) x k=4 jobs" in out
    assert "within 48 h on 1 GPU(s)" in out and "within 6 h on 8 GPU(s)" in out


def test_measured_rates_replace_the_anchors(capsys):
    main(["--configfile", PAPER, "--paper-rate", "8400", "--batched-rate", "68000",
          "--gpu-ceiling", "68000"])
    out = capsys.readouterr().out
    assert "MEASURED (given: batched, ceiling, paper)" in out and "[MEASURED rate]" in out
    assert "at 8,400 frame pairs/s" in out


def test_the_study_preset_builds_and_has_its_stated_power():
    study = str(REPO_ROOT / "config" / "synthwalk-study.yaml")
    config = load_merged(study)
    members = plan(config).members
    assert {m.splits for m in members if m.experiment == "table1"} == {4}
    assert config["datasets"]["synthwalk"]["synthwalk"]["n_ids"] // 2 == 150  # test persons
    result = snakemake(REPO_ROOT, "-n", "--forceall", "--configfile", study, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert job_counts(config, plan(config)) == planned_jobs(result)
