"""bench/gpu_check.sh's CPU dry run: every row of the device table runs (tiny sizes)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO_ROOT

ROWS = ("training paper (1 pair/step)", "training batched", "bf16 + channels_last + compile",
        "peak GPU memory", "one 1000-epoch split", "aggregate training, 2 concurrent job(s)",
        "loss on one batch, cpu vs cpu", "resume from checkpoint on cpu",
        "evaluation on cpu: features vs cpu", "lockstep K=1, paper mode, width 0.125, fp32",
        "lockstep K=2, paper mode, width 0.125, fp32")


def test_gpu_check_dry_runs_on_cpu(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "OUT": str(tmp_path)}
    result = subprocess.run(["bash", str(REPO_ROOT / "bench" / "gpu_check.sh"), "--device",
                             "cpu"], env=env, capture_output=True, text=True, timeout=170,
                            check=False)
    assert result.returncode == 0, (tmp_path / "gpu_check_cpu.log").read_text()[-3000:]
    table = (tmp_path / "gpu_check_cpu.md").read_text()
    assert table.strip() == result.stdout.strip()
    assert all(row in table for row in ROWS)
    assert "| resume from checkpoint on cpu | 0 |" in table
    assert "CMC/mAP agree; 0 near-tied distances" in table and "skipped (bf16/compile rows are CUDA-only)" in table
