"""GPU slots on CPU with fake ids: bounded sharing, a SIGKILLed job frees its slot, bad ids."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from amoc.errors import ConfigError
from amoc.experiments import load_config, validate_config
from amoc.gpu_slots import resolve_ids, shell_prefix, slot_count, try_acquire
from tests.conftest import REPO_ROOT
from tests.test_workflow import TINY, copy_workflow, snakemake

FAKE_ENV = {**os.environ, "CUDA_VISIBLE_DEVICES": "0,1", "PYTHONPATH": str(REPO_ROOT)}
SMI = ("GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-aaaa)\n"
       "GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-bbbb)\n")


def wrapped(slots: Path, ids: str, per_gpu: int, script: str) -> list[str]:
    return [sys.executable, "-m", "amoc.gpu_slots", "run", "--slots-dir", str(slots), "--ids",
            ids, "--per-gpu", str(per_gpu), "--poll", "0.05", "--", "sh", "-c", script]


def max_overlap(events: list[tuple[float, int]]) -> int:
    """Largest number of open intervals, from (time, +1 start / -1 end) events."""
    level = peak = 0
    for _, step in sorted(events):
        level += step
        peak = max(peak, level)
    return peak


def test_concurrent_jobs_never_exceed_k_per_gpu(tmp_path):
    log = tmp_path / "log.txt"
    script = (f'echo "$CUDA_VISIBLE_DEVICES $(date +%s.%N) 1" >> {log}; sleep 0.4; '
              f'echo "$CUDA_VISIBLE_DEVICES $(date +%s.%N) -1" >> {log}')
    procs = [subprocess.Popen(wrapped(tmp_path / "slots", "0,1", 2, script), env=FAKE_ENV)
             for _ in range(7)]
    assert all(p.wait(timeout=30) == 0 for p in procs)
    per_gpu: dict[str, list[tuple[float, int]]] = {}
    for line in log.read_text().splitlines():
        gpu, stamp, step = line.split()
        per_gpu.setdefault(gpu, []).append((float(stamp), int(step)))
    assert sorted(per_gpu) == ["0", "1"]
    assert sum(len(e) for e in per_gpu.values()) == 14
    assert all(max_overlap(events) <= 2 for events in per_gpu.values())


def test_a_sigkilled_job_frees_its_slot(tmp_path):
    slots, marker = tmp_path / "slots", tmp_path / "started"
    job = subprocess.Popen(wrapped(slots, "0", 1, f"touch {marker}; exec sleep 60"),
                           env=FAKE_ENV)
    deadline = time.monotonic() + 20
    while not marker.exists():
        assert time.monotonic() < deadline and job.poll() is None
        time.sleep(0.05)
    assert try_acquire(slots, ["0"], 1) is None  # held by the running job
    job.send_signal(signal.SIGKILL)  # the wrapper exec'd into the job: same pid
    job.wait(timeout=10)
    second = subprocess.run(wrapped(slots, "0", 1, 'echo "$CUDA_VISIBLE_DEVICES"'),
                            env=FAKE_ENV, capture_output=True, text=True, timeout=20, check=False)
    assert second.returncode == 0 and second.stdout.strip() == "0"


def test_ids_that_do_not_exist_name_the_key():
    with pytest.raises(ConfigError, match=r"gpus/ids.*'7'.*CUDA_VISIBLE_DEVICES"):
        resolve_ids([0, 7], env={"CUDA_VISIBLE_DEVICES": "0,1"})
    with pytest.raises(ConfigError, match="gpus/ids.*no CUDA_VISIBLE_DEVICES, no nvidia-smi"):
        resolve_ids([0], env={}, smi=lambda: None)
    with pytest.raises(ConfigError, match="gpus/ids is 'auto' but no GPU"):
        resolve_ids("auto", env={"CUDA_VISIBLE_DEVICES": ""})
    result = subprocess.run(wrapped(Path("/nonexistent"), "0,3", 1, "true"), env=FAKE_ENV,
                            capture_output=True, text=True, timeout=20, check=False)
    assert result.returncode == 2 and "gpus/ids" in result.stderr and "'3'" in result.stderr


def test_auto_reads_cuda_visible_devices_then_nvidia_smi(monkeypatch):
    assert resolve_ids("auto", env={"CUDA_VISIBLE_DEVICES": "2,3"}) == ["2", "3"]
    assert resolve_ids("auto", env={}, smi=lambda: SMI) == ["0", "1"]
    assert resolve_ids(["GPU-bbbb"], env={}, smi=lambda: SMI) == ["GPU-bbbb"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2")
    assert slot_count({"ids": "auto", "jobs_per_gpu": 3}) == 9  # the gpu resource total


def test_no_prefix_without_the_setting_or_off_the_local_executor():
    setting = {"ids": [0, 1], "jobs_per_gpu": 4}
    assert shell_prefix(None, local=True) == ""
    assert shell_prefix(setting, local=False) == ""  # SLURM assigns GPUs itself
    assert "--ids 0,1 --per-gpu 4 -- " in shell_prefix(setting, local=True)


def test_config_validation_refuses_bad_gpu_settings():
    config = load_config(REPO_ROOT / "config" / "config.yaml")
    for bad in ({"ids": [], "jobs_per_gpu": 1}, {"ids": [0], "jobs_per_gpu": 0},
                {"ids": "all"}, {"ids": ["0,1"]}):
        with pytest.raises(ConfigError, match="gpus"):
            validate_config({**copy.deepcopy(config), "gpus": bad})
    validate_config({**config, "gpus": {"ids": "auto", "jobs_per_gpu": 4}})


def test_dry_run_dag_runs_gpu_rules_through_the_wrapper(tmp_path):
    work = copy_workflow(tmp_path, TINY | {"gpus": {"ids": [0, 1], "jobs_per_gpu": 2}})
    result = snakemake(work, "-n", "-p", timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [ln for ln in result.stdout.splitlines() if "python -m amoc." in ln]
    prefix = ("python -m amoc.gpu_slots run --slots-dir results/.gpu-slots --ids 0,1 "
              "--per-gpu 2 -- python -m amoc.")
    for module in ("train.run", "eval.evaluate", "train.pretrain_motion", "report.fig5"):
        assert any(prefix + module in ln for ln in lines), module
    assert not any("gpu_slots" in ln for ln in lines if "amoc.collect" in ln)


def test_a_real_run_with_a_missing_id_stops_before_the_first_job(tmp_path):
    work = copy_workflow(tmp_path, TINY | {"gpus": {"ids": [0, 5], "jobs_per_gpu": 2}})
    result = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1"], cwd=work,
                            check=False, env={**FAKE_ENV, "CUDA_VISIBLE_DEVICES": "0"},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "gpus/ids lists GPU id(s) ['5']" in result.stderr
    assert not (work / "results").exists()
