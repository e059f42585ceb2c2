"""Atomic writes: a result file either exists complete or not at all, even if the process is killed."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it onto `path` only if the block succeeds.

    The temporary file lives in the same directory so the final `os.replace` is atomic.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    tmp_path.chmod(0o666 & ~umask)  # mkstemp makes 0600; results must be readable like any file
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_atomic(path: str | os.PathLike, writer: Callable[[Path], Any]) -> None:
    """Call `writer(tmp_path)` and atomically move the result to `path`."""
    with atomic_path(path) as tmp:
        writer(tmp)


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    """Write `obj` as pretty, key-sorted JSON, atomically."""
    write_atomic(path, lambda p: p.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n"))


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write a text file atomically."""
    write_atomic(path, lambda p: p.write_text(text))
