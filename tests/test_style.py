"""Style gates CI runs with the tests: ruff on the package and tests, snakefmt on the workflow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT


def test_ruff_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "amoc", "tests", "bench",
                             "examples"],
                            cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_is_snakefmt_formatted():
    exe = Path(sys.executable).with_name("snakefmt")
    if not exe.exists():
        pytest.skip(f"snakefmt is not installed next to {sys.executable} (pip install -e '.[test]')")
    result = subprocess.run([str(exe), "--check", "Snakefile", "workflow"], cwd=REPO_ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
