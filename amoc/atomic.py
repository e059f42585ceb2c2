"""Atomic writes: a result file either exists complete or not at all, even if the process is killed.

A full disk is reported once, naming the path and the space it needs, whatever library the
writer used (an OSError with ENOSPC, or torch's "unexpected pos"). Temporary files left by a
killed write (``.<name>.*.tmp``, older than this process) are removed by the next write.
"""

from __future__ import annotations

import errno
import glob
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from amoc.errors import AmocError
from amoc.integrity import checksum_path, sha256_of

_STARTED = time.time()  # a temporary file older than this cannot be one of ours
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
DISK_FULL_TEXT = ("unexpected pos", "No space left", "file write failed")  # torch's wording


class DiskFullError(AmocError):
    """No space left while writing a file."""


def _size(n_bytes: float) -> str:
    """A byte count in the largest binary unit that keeps it >= 1."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.1f} {unit}"
    return f"{int(n_bytes)} B"


def is_disk_full(err: BaseException) -> bool:
    """Whether `err` says the disk (or quota) is full, in any library's words."""
    if isinstance(err, OSError) and err.errno in DISK_FULL_ERRNOS:
        return True
    return isinstance(err, RuntimeError) and any(t in str(err) for t in DISK_FULL_TEXT)


def disk_full_error(path: str | os.PathLike, needed: float | None = None) -> DiskFullError:
    """The one message for a full disk: the path, the space needed and the space free."""
    path = Path(path)
    folder = next((p for p in (path.parent, *path.parents) if p.exists()), Path("."))
    free = shutil.disk_usage(folder).free
    need = f"needs about {_size(needed)}, " if needed else ""
    return DiskFullError(f"{path}: disk full while writing ({need}{_size(free)} free on the disk "
                         f"holding {folder}); free space (`amoc du` lists what can go) and rerun")


def temporary_folder(parent: str | os.PathLike, prefix: str) -> Path:
    """A new hidden folder in ``parent`` to fill and rename into place, with the permissions a
    plain ``mkdir`` would give (mkdtemp makes 0700, so the renamed result would be private)."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)
    return tmp


def remove_stale_temporaries(path: str | os.PathLike) -> None:
    """Delete ``.<name>.*.tmp`` siblings of `path` left by a killed write before this process."""
    path = Path(path)
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        try:
            if tmp.stat().st_mtime < _STARTED:
                tmp.unlink()
        except FileNotFoundError:  # another process cleaned it first
            pass


@contextmanager
def atomic_path(path: str | os.PathLike, needed: float | None = None) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it onto `path` only if the block succeeds.

    The temporary file lives in the same directory so the final `os.replace` is atomic.
    `needed` (bytes, an estimate) goes into the message if the disk fills up.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    tmp_path.chmod(0o666 & ~umask)  # mkstemp makes 0600; results must be readable like any file
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except (OSError, RuntimeError) as err:
        if not is_disk_full(err):
            raise
        written = tmp_path.stat().st_size if tmp_path.exists() else 0
        raise disk_full_error(path, needed or written or None) from err
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_atomic(path: str | os.PathLike, writer: Callable[[Path], Any], *,
                 checksum: bool = False, needed: float | None = None) -> None:
    """Call `writer(tmp_path)` and atomically move the result to `path`.

    Args:
        checksum: also write ``<path>.sha256`` (amoc.integrity) once `path` is complete.
        needed: estimated size in bytes, for the disk-full message.
    """
    if checksum:
        checksum_path(path).unlink(missing_ok=True)  # never pair a new file with an old digest
    with atomic_path(path, needed) as tmp:
        writer(tmp)
        digest = sha256_of(tmp) if checksum else ""  # hashed before the rename: a kill between
    if checksum:  # the rename and this tiny write is the only way to lose the sidecar
        write_text_atomic(checksum_path(path), digest + "\n")


def move_checksummed(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Rename a checksummed file, keeping a verifiable copy at every instant.

    The destination's sidecar is written first (same digest), then the file is renamed, then the
    old sidecar removed: a kill at any point leaves `src` or `dst` with a matching sidecar.
    """
    write_text_atomic(checksum_path(dst), checksum_path(src).read_text(encoding="ascii"))
    os.replace(src, dst)
    checksum_path(src).unlink(missing_ok=True)


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    """Write `obj` as pretty, key-sorted JSON, atomically."""
    write_atomic(path, lambda p: p.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n"))


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write a text file atomically."""
    write_atomic(path, lambda p: p.write_text(text))
