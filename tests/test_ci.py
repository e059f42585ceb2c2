"""CI's SLURM setup (.ci/slurm_env.sh), run against stub `id` and `apt-get` commands: the SLURM
test is required once the packages install, and its skip says why when they cannot."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.test_slurm import skip_reason

SETUP = REPO_ROOT / ".ci" / "slurm_env.sh"


def _stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def ci_env(tmp_path: Path, uid: int, apt_status: int | None) -> dict[str, str]:
    """The variables .ci/slurm_env.sh leaves exported, with `id -u` = uid and an apt-get that
    exits `apt_status` (None: no apt-get on PATH)."""
    stubs = tmp_path / "bin"
    stubs.mkdir()
    _stub(stubs, "id", f"echo {uid}")
    if apt_status is not None:
        _stub(stubs, "apt-get", f"exit {apt_status}")
    # Exported variables only (`declare -x` lines), printed with shell builtins; PATH is the
    # stubs alone, so a real apt-get can never be reached.
    script = (f'. "{SETUP}"; for v in AMOC_REQUIRE_SLURM AMOC_SLURM_SKIP_REASON; do '
              '[[ "$(declare -p "$v" 2>/dev/null)" == "declare -x"* ]] && '
              'printf "%s=%s\\0" "$v" "${!v}"; done; true')
    result = subprocess.run(["/bin/bash", "-c", script], capture_output=True, text=True,
                            env={"PATH": str(stubs)}, check=True, timeout=30)
    return dict(item.split("=", 1) for item in result.stdout.split("\0") if "=" in item)


@pytest.mark.skipif(not Path("/bin/bash").exists(), reason="needs /bin/bash")
@pytest.mark.parametrize(("uid", "apt_status", "required", "reason"), [
    (0, 0, True, None),
    (0, 100, False, "ci: apt-get could not install slurmctld slurmd slurm-client munge"),
    (1000, 0, False, "ci: not root, so slurmctld slurmd slurm-client munge were not installed"),
    (0, None, False, "ci: no apt-get, so slurmctld slurmd slurm-client munge were not installed"),
])
def test_ci_requires_slurm_exactly_when_the_packages_installed(
        tmp_path: Path, uid: int, apt_status: int | None, required: bool, reason: str | None
) -> None:
    env = ci_env(tmp_path, uid, apt_status)
    assert (env.get("AMOC_REQUIRE_SLURM") == "1") is required
    assert env.get("AMOC_SLURM_SKIP_REASON") == reason


def test_ci_runs_the_setup_and_lists_skip_reasons() -> None:
    run = (REPO_ROOT / ".ci" / "run").read_text().splitlines()
    commands = [line.strip() for line in run if line.strip() and not line.lstrip().startswith("#")]
    assert ". .ci/slurm_env.sh" in commands
    assert commands.index(". .ci/slurm_env.sh") < commands.index(
        ".venv/bin/python -m pytest -q -rs")
    assert os.access(REPO_ROOT / ".ci" / "run", os.X_OK)


def test_slurm_skip_reason_carries_the_ci_note(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AMOC_SLURM_SKIP_REASON", raising=False)
    assert skip_reason(RuntimeError("missing munged")) == "SLURM cannot start here: missing munged"
    monkeypatch.setenv("AMOC_SLURM_SKIP_REASON", "ci: apt-get could not install slurmd")
    assert skip_reason(RuntimeError("missing munged")) == (
        "SLURM cannot start here: missing munged [ci: apt-get could not install slurmd]")
