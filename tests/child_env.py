"""The environment for subprocesses the tests start, whether or not the venv is activated.

Snakemake runs each rule's `python -m amoc...` through the shell, so it takes `python` from PATH:
the directory of the interpreter running the tests goes first, or a shell without the venv
activated would run the rules with the system Python (no torch, no amoc).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def child_env(**overrides: str) -> dict[str, str]:
    """``os.environ`` with ``sys.executable``'s directory first on PATH, plus ``overrides``."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {**os.environ, "PATH": path, **overrides}
