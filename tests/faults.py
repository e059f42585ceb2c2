"""Fault-injection helpers for the reliability tests: CLI runs, kills, polling, memory probes.

Everything here drives the package the way a user does: `python -m amoc.<module>` in a
subprocess (exit 2 + a message for user errors), or `snakemake` on a private workflow copy.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from tests.child_env import child_env

# Single-threaded BLAS/OpenMP: identical numbers in every subprocess, and two jobs fit 2 cores.
ENV = child_env(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0")

METRIC_COLUMNS = [*(f"cmc_{k}" for k in range(1, 21)), "mAP", "n_query", "n_gallery"]


def amoc_cmd(module: str, *args: str) -> list[str]:
    """`python -m amoc.<module> args...` as an argv list."""
    return [sys.executable, "-m", f"amoc.{module}", *map(str, args)]


def run_amoc(module: str, *args: str, cwd: Path | None = None,
             timeout: float = 300) -> subprocess.CompletedProcess:
    """Run one amoc CLI to completion, capturing its output."""
    return subprocess.run(amoc_cmd(module, *args), cwd=cwd, env=ENV, capture_output=True,
                          text=True, timeout=timeout, check=False)


def run_all(commands: list[list[str]], cwd: Path | None = None, parallel: int = 2,
            timeout: float = 300) -> list[subprocess.CompletedProcess]:
    """Run argv lists `parallel` at a time; results in the order given."""
    results: list[subprocess.CompletedProcess | None] = [None] * len(commands)
    for start in range(0, len(commands), parallel):
        batch = list(enumerate(commands))[start:start + parallel]
        procs = [(i, subprocess.Popen(cmd, cwd=cwd, env=ENV, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)) for i, cmd in batch]
        for i, proc in procs:
            out, err = proc.communicate(timeout=timeout)
            results[i] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return results  # type: ignore[return-value]


def start_all(commands: list[list[str]], cwd: Path | None = None) -> list[subprocess.Popen]:
    """Start argv lists at once (stdout/stderr captured); collect them with `finish_all`."""
    return [subprocess.Popen(cmd, cwd=cwd, env=ENV, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for cmd in commands]


def finish_all(procs: list[subprocess.Popen], timeout: float = 300
               ) -> list[subprocess.CompletedProcess]:
    """Wait for processes from `start_all`; results in the same order."""
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


def user_error(result: subprocess.CompletedProcess) -> str:
    """The stderr of a CLI that must have failed as a user error: exit 2, no traceback."""
    assert result.returncode == 2, (result.returncode, result.stderr[-3000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "error: " in result.stderr
    return result.stderr


def wait_for(predicate: Callable[[], bool], timeout: float, proc: subprocess.Popen | None = None,
             interval: float = 0.02) -> bool:
    """Poll `predicate` until true (True), `timeout` seconds pass or `proc` exits (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if proc is not None and proc.poll() is not None:
            return predicate()
        time.sleep(interval)
    return False


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process group `proc` leads (started with start_new_session=True) and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def build_synthwalk_data(root: Path, n_ids: int, min_len: int, max_len: int,
                         n_splits: int = 1, min_frames: int = 2) -> dict[str, Path]:
    """synthwalk generator -> reader -> frame cache -> splits, through the data modules."""
    from amoc.data.cache import build_cache
    from amoc.data.readers import read_dataset
    from amoc.data.splits import make_splits, write_splits
    from amoc.data.synthwalk.generate import generate_synthwalk

    generate_synthwalk(root / "raw", n_ids=n_ids, min_len=min_len, max_len=max_len, seed=0)
    index = read_dataset("synthwalk", root / "raw", min_frames=min_frames)
    build_cache(index, root / "cache", threads=2)
    write_splits(make_splits(index, "synthwalk", n_splits, seed=0), root / "splits")
    split = json.loads((root / "splits" / "split0.json").read_text())
    return {"root": root, "cache": root / "cache", "split": root / "splits" / "split0.json",
            "n_train": len(split["train_pids"])}


def train_cmd(data: dict, out: Path, model: dict, train: dict) -> list[str]:
    return amoc_cmd("train.run", "--cache", data["cache"], "--split", data["split"],
                    "--model-config", json.dumps(model), "--train-config", json.dumps(train),
                    "--out", out)


def eval_cmd(data: dict, model: Path, out: Path, lengths: list[int]) -> list[str]:
    cfg = {"test_lengths": lengths, "tta": "none", "device": "cpu"}
    return amoc_cmd("eval.evaluate", "--model", model, "--cache", data["cache"], "--split",
                    data["split"], "--eval-config", json.dumps(cfg), "--dataset", "synthwalk",
                    "--out", out)


def metrics_of(rows_path: Path) -> pd.DataFrame:
    """The metric columns of a result-row file, one row per test length."""
    rows = pd.read_parquet(rows_path).sort_values("test_length").reset_index(drop=True)
    return rows[["test_length", *METRIC_COLUMNS]]


PEAK_KEYS = ("VmHWM", "VmRSS", "RssAnon", "RssFile")


class MemoryUnmeasured(RuntimeError):
    """The child's memory could not be read (no /proc, or it exited before one sample)."""


def _sample(status: Path, peaks: dict[str, int]) -> bool:
    """Fold one read of /proc/<pid>/status into `peaks`; False if it could not be read."""
    try:
        lines = status.read_text().splitlines()
    except OSError:
        return False
    found = False
    for line in lines:
        key, _, value = line.partition(":")
        if key in peaks:
            peaks[key] = max(peaks[key], int(value.split()[0]) * 1024)
            found = True
    return found


# Runs `python -m MODULE ARGS` / `python -c CODE ARGS` and, at exit, copies the process's own
# /proc/self/status to a file: its VmHWM is the kernel's exact peak for this process's memory
# (rusage cannot be used: a child spawned by vfork inherits the parent's, pytest's, high-water).
_REPORT_AT_EXIT = """
import atexit, runpy, sys
out, flag, target = sys.argv[1:4]
atexit.register(lambda: open(out, "w").write(open("/proc/self/status").read()))
sys.argv = [target if flag == "-m" else "-c", *sys.argv[4:]]
if flag == "-m":
    runpy.run_module(target, run_name="__main__", alter_sys=True)
else:
    exec(compile(target, "<string>", "exec"), {"__name__": "__main__"})
"""


def run_measuring_memory(cmd: list[str], cwd: Path | None = None, timeout: float = 300,
                         interval: float = 0.005) -> tuple[subprocess.CompletedProcess, dict]:
    """Run a `python -m/-c` command; return (result, peaks in bytes) of that process (Linux).

    `VmHWM` is the kernel's own peak resident set (it counts file pages mapped by np.memmap), as
    the process reports it at exit: exact however short the peak. `RssAnon` (private heap) has
    no kernel peak, so it is sampled every `interval` s. Raises MemoryUnmeasured when /proc could
    not be read: a test must not pass on zeros.
    """
    if not Path("/proc/self/status").is_file():
        raise MemoryUnmeasured("no /proc/<pid>/status on this system")
    if cmd[1] not in ("-m", "-c"):
        raise ValueError(f"expected a `python -m/-c` command, got {cmd[:3]}")
    peaks, samples = dict.fromkeys(PEAK_KEYS, 0), 0
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryFile("w+") as out, \
            tempfile.TemporaryFile("w+") as err:
        report = Path(tmp) / "status"
        wrapped = [cmd[0], "-c", _REPORT_AT_EXIT, str(report), *cmd[1:]]
        proc = subprocess.Popen(wrapped, cwd=cwd, env=ENV, stdout=out, stderr=err, text=True)
        status = Path(f"/proc/{proc.pid}/status")
        deadline = time.monotonic() + timeout
        while proc.poll() is None and time.monotonic() < deadline:
            samples += _sample(status, peaks)
            time.sleep(interval)
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if not (report.is_file() and _sample(report, peaks)) and not samples:
            raise MemoryUnmeasured(f"{status} could not be read while {cmd[:3]} ran")
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(cmd, proc.returncode, out.read(), err.read()), peaks


def full_disk(path: object, obj: object) -> None:
    """A ``write_json_atomic`` stand-in for a disk that is full at that write."""
    raise OSError(28, "No space left on device", str(path))


def no_training(*args: object, **kwargs: object) -> None:
    """Patched over a training step: a finished run must not train again."""
    raise AssertionError("the finished run trained again")


def fill_disk_at_the_curves(monkeypatch, module, run, out: Path) -> Path:
    """Run a training ``run()`` whose curves JSON (``module.write_json_atomic``, its last
    write) hits a full disk; return the partial that must hold the finished state."""

    with monkeypatch.context() as patch:
        patch.setattr(module, "write_json_atomic", full_disk)
        with pytest.raises(OSError, match="No space left"):
            run()
    return out.with_name(out.name + ".partial")
