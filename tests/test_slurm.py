"""The SLURM profile against a real one-node SLURM: part of the default DAG runs as SLURM jobs.

Skipped, with the reason, where SLURM cannot start (not root, packages missing); set
AMOC_REQUIRE_SLURM=1 (.ci/slurm_env.sh does, once it has installed the packages) to make that a
failure instead. Where CI could not install the packages, its AMOC_SLURM_SKIP_REASON is part of
the skip reason, so the test summary says so.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.slurm_cluster import SlurmCluster, SlurmUnavailable, local_cluster
from tests.test_workflow import TINY, copy_workflow

TARGETS = ["results/data/synthwalk/cache", "results/splits/synthwalk/split0.json",
           "results/splits/synthwalk/split1.json"]
EXPECTED_JOBS = {"synthwalk": 1, "index": 1, "cache": 1, "split": 2}
# The GPU rules (pretrain, train, evaluate) cost minutes of torch on a loaded CI box; `index`
# declares the same `gpu=1` resource instead, so the gpu -> --gpus=1 -> GRES path is still real.
GPU_RULE = "index"


@pytest.fixture
def cluster(tmp_path) -> Iterator[SlurmCluster]:
    """A running local cluster, stopped afterwards; skip (or fail if required) when impossible."""
    try:
        with local_cluster(tmp_path / "slurm") as running:
            yield running
    except SlurmUnavailable as err:
        if os.environ.get("AMOC_REQUIRE_SLURM") == "1":
            pytest.fail(f"SLURM could not start although AMOC_REQUIRE_SLURM=1: {err}")
        pytest.skip(skip_reason(err))


def skip_reason(err: Exception) -> str:
    """Why the SLURM test skips, with CI's note on the package install where it left one."""
    ci_note = os.environ.get("AMOC_SLURM_SKIP_REASON")
    return f"SLURM cannot start here: {err}" + (f" [{ci_note}]" if ci_note else "")


def slurm_jobs(cluster: SlurmCluster) -> list[tuple[str, str, str]]:
    """(rule, state, GPU request) of every job the controller ran (it keeps them MinJobAge s)."""
    out = cluster.run("squeue", "-h", "--states=all", "-O",
                      "State:12,Comment:100,tres-per-job:30")
    jobs = []
    for state, comment, tres in (line.split() for line in out.splitlines()):
        # the plugin's comment: rule_<name>[_wildcards_<values>]
        jobs.append((comment.removeprefix("rule_").split("_wildcards_")[0], state, tres))
    return jobs


@pytest.mark.slow
def test_slurm_profile_runs_jobs_on_a_real_cluster(cluster, tmp_path):
    config = copy.deepcopy(TINY)
    config["datasets"]["synthwalk"]["synthwalk"].update(n_ids=6, min_len=10, max_len=12)
    work = tmp_path / "wf"
    work.mkdir()
    copy_workflow(work, config)
    # The profile as users run it; only status checks come sooner (default: 40 s, then +10 s per
    # check that finds nothing finished). A job here takes ~8 s idle, 10-18 s on a loaded box
    # (mostly snakemake's own start inside the job); checks at 15, 40 s catch either in one or two.
    cmd = [sys.executable, "-m", "snakemake", *TARGETS, "--profile", "workflow/profiles/slurm",
           "--slurm-init-seconds-before-status-checks", "15",
           "--set-resources", f"{GPU_RULE}:gpu=1"]
    result = subprocess.run(cluster.wrap(cmd), cwd=work, env=cluster.env, capture_output=True,
                            text=True, timeout=170, check=False)
    assert result.returncode == 0, result.stderr[-5000:] + "\n" + cluster.logs()

    assert (work / "results/data/synthwalk/cache/frames.npy").stat().st_size > 0
    for target in TARGETS[1:]:
        assert (work / target).stat().st_size > 0
    # SLURM's controller ran every job, and only the gpu=1 job holds the node's GPU.
    jobs = slurm_jobs(cluster)
    assert Counter(rule for rule, _, _ in jobs) == EXPECTED_JOBS, jobs
    assert all(state == "COMPLETED" for _, state, _ in jobs), jobs
    assert {rule: tres for rule, _, tres in jobs if tres != "N/A"} == {
        GPU_RULE: "gres:gpu:1"}, jobs
