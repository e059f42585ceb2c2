"""Reliability of the workflow: SIGKILL mid-training then `--rerun-incomplete`, `amoc du` on the
finished run, and config values outside the schema refused by `snakemake -n` naming the key."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.faults import ENV, kill_group, run_amoc, wait_for
from tests.test_workflow import SNAKEMAKE, TINY, copy_workflow, planned_jobs, snakemake

# One dataset, one split; the killed job is amoc_nomotion (6 epochs, a checkpoint each); the
# 1-epoch rcn variant brings a flow store into the DAG (it never writes a .partial).
MICRO = copy.deepcopy(TINY)
MICRO["datasets"]["synthwalk"]["n_splits"] = 1
MICRO["train"].update(epochs=6, checkpoint_every=1)
MICRO["eval"]["test_lengths"] = [128]
MICRO["experiments"] = {"table1": {"kind": "table1", "datasets": ["synthwalk"], "splits": 1,
                                   "variants": {
                                       "amoc_nomotion": {"model": {"variant": "amoc_nomotion"}},
                                       "baseline_lk": {"model": {"variant": "rcn"}, "flow": "lk",
                                                       "train": {"epochs": 1}}}}}


@pytest.fixture(scope="module")
def killed_and_rerun(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Start `snakemake --cores 1`, SIGKILL its process group once a training checkpoint
    exists, inspect what is left, then rerun with --rerun-incomplete."""
    work = copy_workflow(tmp_path_factory.mktemp("killwf"), MICRO)
    models = work / "results" / "models"
    proc = subprocess.Popen([*SNAKEMAKE, "--cores", "1"], cwd=work, env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    saw_partial = wait_for(lambda: any(models.glob("**/*.pt.partial")), timeout=300, proc=proc)
    kill_group(proc)
    partials = sorted(models.glob("**/*.pt.partial"))
    after_kill = {"saw_partial": saw_partial, "returncode": proc.returncode,
                  "partials": partials,
                  "finals": {p: Path(str(p)[: -len(".partial")]).exists() for p in partials}}
    # A SIGKILLed snakemake cannot release its lock: the plain rerun is refused, naming --unlock.
    locked = snakemake(work, "--cores", "1", "--rerun-incomplete")
    unlock = snakemake(work, "--unlock")
    rerun = snakemake(work, "--cores", "1", "--rerun-incomplete")
    return {"work": work, "after_kill": after_kill, "locked": locked, "unlock": unlock,
            "rerun": rerun}


@pytest.mark.slow
def test_kill_leaves_no_complete_looking_model(killed_and_rerun: dict) -> None:
    state = killed_and_rerun["after_kill"]
    assert state["saw_partial"], "no training checkpoint appeared before snakemake ended"
    assert state["returncode"] == -9
    assert len(state["partials"]) == 1
    assert not any(state["finals"].values()), "a model file exists for the killed training"


@pytest.mark.slow
def test_rerun_after_a_kill_asks_for_unlock(killed_and_rerun: dict) -> None:
    locked = killed_and_rerun["locked"]
    assert locked.returncode != 0
    assert "--unlock" in locked.stdout + locked.stderr
    assert killed_and_rerun["unlock"].returncode == 0


@pytest.mark.slow
def test_rerun_incomplete_resumes_and_finishes_the_dag(killed_and_rerun: dict) -> None:
    work, rerun = killed_and_rerun["work"], killed_and_rerun["rerun"]
    assert rerun.returncode == 0, rerun.stderr[-5000:]
    partial = killed_and_rerun["after_kill"]["partials"][0]
    model = Path(str(partial)[: -len(".partial")])
    assert model.is_file() and not partial.exists()
    log = work / "results" / "logs" / "train" / (
        f"synthwalk_{model.parent.name}_{model.stem}.log")
    assert "resumed" in log.read_text(), "the rerun trained from scratch instead of resuming"
    for ext in ("md", "tex", "csv"):
        assert (work / "results" / "tables" / f"table1.{ext}").stat().st_size > 0
    for ext in ("png", "pdf"):
        assert (work / "results" / "figures" / f"table1_cmc.{ext}").stat().st_size > 0
    again = snakemake(work, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.slow
def test_du_lists_every_stage_of_the_finished_run(killed_and_rerun: dict) -> None:
    work = killed_and_rerun["work"]
    assert killed_and_rerun["rerun"].returncode == 0
    result = run_amoc("disk_usage", "--results", "results", "--json", cwd=work)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    stages = {s["stage"]: s for s in report["stages"]}
    for stage in ("data raw", "indexes", "caches", "splits", "flow stores", "models",
                  "eval rows", "rows/summaries", "tables", "figures", "logs", "benchmarks"):
        assert stage in stages and stages[stage]["files"] > 0, f"`amoc du` lacks {stage!r}"
    assert "other" not in stages, f"unclassified files: {stages.get('other')}"
    files = [p for p in (work / "results").rglob("*") if p.is_file()]
    assert report["total"]["files"] == len(files)
    assert report["total"]["bytes"] == sum(p.stat().st_size for p in files)


def _write(work: Path, config: dict) -> None:
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(config))


def _set(config: dict, dotted: str, value) -> dict:
    config = copy.deepcopy(config)
    *parents, last = dotted.split(".")
    target = config
    for key in parents:
        target = target[key]
    target[last] = value
    return config


@pytest.fixture(scope="module")
def dry_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = copy_workflow(tmp_path_factory.mktemp("dry"), TINY)
    assert planned_jobs(snakemake(work, "-n")), "the valid TINY config must plan jobs"
    return work


# Each needle is a regex that only the message naming that key and value matches.
@pytest.mark.parametrize(("dotted", "value", "needles"), [
    ("train.epochs", -1, [r"(?<![\d.])-1 is less than the minimum of 1\b",
                          r"On instance\['train'\]\['epochs'\]"]),
    ("model.fusion_layer", "conv9", [r"'conv9' is not one of \['tanh1'",
                                     r"On instance\['model'\]\['fusion_layer'\]"]),
    ("train.margin", 0, [r"(?<![\d.-])0 is less than or equal to the minimum of 0\b",
                         r"On instance\['train'\]\['margin'\]"]),
    ("experiments.table1.splits", 5, [r"experiments/table1/splits = 5\b", r"\bn_splits = 2\b"]),
    ("experiments.table1.variants.amoc_nomotion", {"train": {"margin": -1.0}},
     [r"amoc_nomotion", r"margin", r"(?<![\d.])-1\.0\b"]),
])
def test_dry_run_refuses_values_outside_the_schema(dry_workdir: Path, dotted: str, value,
                                                   needles: list[str]) -> None:
    _write(dry_workdir, _set(TINY, dotted, value))
    try:
        result = snakemake(dry_workdir, "-n")
    finally:
        _write(dry_workdir, TINY)
    text = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Job stats" not in text, "jobs were planned for an invalid config"
    for needle in needles:
        assert re.search(needle, text), (needle, text[-2000:])


def test_dry_run_refuses_a_grid_axis_value_outside_the_schema(dry_workdir: Path) -> None:
    config = copy.deepcopy(TINY)
    config["experiments"]["fig6c"] = {"kind": "fig6c", "datasets": ["synthwalk"], "splits": 1,
                                      "grid": {"name": "margin_{margin}",
                                               "axes": {"train.margin": [0, 2]}}}
    _write(dry_workdir, config)
    try:
        result = snakemake(dry_workdir, "-n")
    finally:
        _write(dry_workdir, TINY)
    assert result.returncode != 0 and "margin" in result.stdout + result.stderr
