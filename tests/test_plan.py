"""`amoc plan`: exact job counts of the paper preset's DAG, a projection monotone in G and k."""

from __future__ import annotations

import re

import pytest

from amoc.errors import ConfigError
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
from tests.test_workflow import PAPER_DAG, PAPER_TOTAL, planned_jobs, snakemake

PAPER = str(REPO_ROOT / "config" / "paper.yaml")


def test_paper_preset_job_counts_are_exact():
    config = load_merged(PAPER)
    counts = job_counts(config, plan(config))
    assert counts == PAPER_DAG and sum(counts.values()) == PAPER_TOTAL


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
    assert re.search(r"^\s+train_lockstep1\s+70$", out, flags=re.MULTILINE)
    assert re.search(rf"^\s+total\s+{PAPER_TOTAL:,}$", out, flags=re.MULTILINE)
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
    table1 = [m for m in members if m.experiment == "table1"]
    assert {len(m.trainings) for m in table1} == {8}  # 4 splits x 2 seeds: enough for a verdict
    assert {m.variant for m in table1} == {"amoc_nomotion", "amoc_offline_epic", "amoc_e2e_epic"}
    assert {len(m.trainings) for m in members if m.variant == "offline_gt"} == {8}
    assert config["train"]["epochs"] == 30  # where the learning curves separate the variants
    result = snakemake(REPO_ROOT, "-n", "--forceall", "--configfile", study, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert job_counts(config, plan(config)) == planned_jobs(result)


@pytest.mark.parametrize("flag", ["--paper-rate", "--batched-rate", "--gpu-ceiling",
                                  "--lockstep-rate"])
@pytest.mark.parametrize("value", ["0", "-5", "inf"])
def test_rates_must_be_positive(flag, value, capsys):
    with pytest.raises(SystemExit):
        main(["--configfile", PAPER, flag, value])
    assert "is not a rate > 0" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "found"), [(None, "cannot read it"), ("", "found NoneType"),
                                             ("- a\n", "found list")])
def test_a_bad_configfile_is_a_clear_error(tmp_path, text, found):
    path = tmp_path / "c.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError, match=f"--configfile {path}.*{found}"):
        load_merged(str(path))


def test_lockstep_projects_only_with_a_measured_rate(capsys):
    main(["--configfile", PAPER, "--measured", "--lockstep", "1"])  # the preset's own K is 10
    alone = capsys.readouterr().out
    assert "MEASURED (H200 2026-12-04)" in alone and "at 1,814 frame pairs/s" in alone
    assert "lockstep: off" in alone
    main(["--configfile", PAPER, "--measured"])
    assert "lockstep K=10: unmeasured" in capsys.readouterr().out  # from lockstep.max_models
    main(["--configfile", PAPER, "--measured", "--lockstep", "10"])
    unmeasured = capsys.readouterr().out
    assert "lockstep K=10: unmeasured" in unmeasured
    assert _projected(unmeasured) == _projected(alone)
    main(["--configfile", PAPER, "--measured", "--lockstep", "10", "--lockstep-rate", "40000"])
    locked = capsys.readouterr().out
    assert "lockstep: 10 trainings per job" in locked and "at 40,000 frame pairs/s" in locked
    assert _projected(locked) < _projected(alone) / 10


def _projected(out: str) -> float:
    line = next(x for x in out.splitlines() if x.startswith("projected wall time"))
    return float(line.split(": ")[1].split(" h")[0].replace(",", ""))
