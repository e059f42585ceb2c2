"""Every stage the workflow runs can be called through `amoc` (docs/architecture.md says so)."""

from __future__ import annotations

import re

from amoc.cli import COMMANDS
from tests.conftest import REPO_ROOT


def test_every_module_a_rule_runs_is_an_amoc_command() -> None:
    rules = "".join(p.read_text() for p in (REPO_ROOT / "workflow" / "rules").glob("*.smk"))
    run = set(re.findall(r"python -m (amoc[\w.]+)", rules))
    assert run, "no rule runs an amoc module?"
    commands = {module.removesuffix(".__main__") for module, _ in COMMANDS.values()}
    assert run <= commands, f"rules run modules `amoc` does not list: {run - commands}"
