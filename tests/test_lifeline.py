"""Process hygiene: a job exits when the workflow that started it is SIGKILLed, and a second
copy of a job on the same output refuses to start, naming the first."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from test_train_toy import build_toy

from amoc.joblock import JobLockedError, job_lock, lock_path
from tests.faults import ENV, amoc_cmd, kill_group, user_error, wait_for

JOB = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from amoc.cli import run_command

    def main(argv):
        Path(sys.argv[1]).write_text(str(os.getpid()))
        try:
            time.sleep(120)
        finally:
            Path(sys.argv[2]).write_text("cleaned up")

    raise SystemExit(run_command(main))
""")


def _alive(pid: int) -> bool:
    """Running (a zombie nobody reaped yet counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_job_exits_when_the_workflow_is_sigkilled(tmp_path: Path) -> None:
    """Workflow (python) -> bash -c "job; true" -> job: SIGKILL only the workflow process."""
    job, pid_file, cleaned = tmp_path / "job.py", tmp_path / "pid", tmp_path / "cleaned"
    job.write_text(JOB)
    shell = f"{sys.executable} {job} {pid_file} {cleaned}; true"  # bash must stay in between
    script = f"import subprocess, time; subprocess.Popen(['bash', '-c', {shell!r}]); time.sleep(120)"
    workflow = subprocess.Popen([sys.executable, "-c", script], env=ENV, start_new_session=True)
    try:
        assert wait_for(pid_file.exists, timeout=60, proc=workflow), "the job never started"
        time.sleep(0.2)
        pid = int(pid_file.read_text())
        assert _alive(pid)
        workflow.kill()  # the workflow process alone, not its group
        workflow.wait()
        assert wait_for(lambda: not _alive(pid), timeout=10), "the job outlived its workflow"
        assert cleaned.read_text() == "cleaned up"  # SIGTERM became SystemExit: finally ran
    finally:
        kill_group(workflow)


def test_second_holder_of_an_output_is_refused_naming_the_first(tmp_path: Path) -> None:
    out = tmp_path / "m.pt"
    script = ("import time\nfrom amoc.joblock import job_lock\n"
              f"with job_lock({str(out)!r}):\n    print('locked', flush=True)\n    time.sleep(120)")
    holder = subprocess.Popen([sys.executable, "-c", script], env=ENV, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        busy = rf"{out}: another job is already writing it \(pid {holder.pid}:"
        with pytest.raises(JobLockedError, match=busy), job_lock(out):
            pass
        holder.send_signal(signal.SIGKILL)  # the kernel drops a dead holder's lock
        holder.wait()
        with job_lock(out):
            assert lock_path(out).read_text().startswith(f"pid {os.getpid()}:")
        assert not lock_path(out).exists()
    finally:
        holder.kill()
        holder.wait()


def test_second_pretraining_on_the_same_output_refuses_to_start(tmp_path: Path) -> None:
    toy = build_toy(tmp_path, n_ids=4, lengths=(4, 6))
    out = tmp_path / "motion.pt"
    cmd = amoc_cmd("train.pretrain_motion", "--cache", toy["cache"], "--flow-store", toy["flow"],
                   "--width", "0.125", "--colour", "rgb", "--split", toy["split"],
                   "--pretrain-config", json.dumps({"iterations": 100_000, "batch_pairs": 2,
                                                    "heldout_tracklets": 2, "device": "cpu"}),
                   "--out", out)
    first = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        assert wait_for(lock_path(out).exists, timeout=120, proc=first)
        second = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=120,
                                check=False)
        stderr = user_error(second)
        assert f"{out}: another job is already writing it (pid {first.pid}:" in stderr
        assert first.poll() is None  # the first one is untouched
    finally:
        kill_group(first)
