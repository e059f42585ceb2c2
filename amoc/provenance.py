"""What produced a number: code version, library versions, device. Stored with every result row."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

import amoc


@lru_cache(maxsize=1)
def code_version() -> str:
    """Package version plus the git commit (and '-dirty' if the tree has changes), if available."""
    root = Path(amoc.__file__).resolve().parent.parent
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
        return f"{amoc.__version__}+g{sha}{'-dirty' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        return amoc.__version__


def library_versions() -> dict[str, str]:
    """Versions of the libraries whose behaviour can change a number."""
    import cv2
    import numpy
    import pandas
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "opencv": cv2.__version__,
        "pandas": pandas.__version__,
    }


def _canonical(value: Any) -> Any:
    """Make equal settings hash equally: 2 and 2.0 are the same margin."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def config_hash(config: Any) -> str:
    """A short, stable hash of a JSON-serialisable config (key order and 2 vs 2.0 do not matter)."""
    blob = json.dumps(_canonical(config), sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
