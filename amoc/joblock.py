"""One job per output: a second training of the same model refuses to start.

After an orphaned job (Snakemake killed alone) and ``--unlock``, a rerun would otherwise write
the same partial checkpoint and log as the survivor. ``job_lock(out)`` holds ``fcntl.flock`` on
``<out>.lock`` for the life of the job; the kernel drops it when the process dies, however it dies.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from amoc.errors import AmocError


class JobLockedError(AmocError):
    """Another live process is already writing this output."""


def lock_path(out: str | os.PathLike) -> Path:
    """The lock file of output `out`."""
    out = Path(out)
    return out.with_name(out.name + ".lock")


def _holder(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip() or "unknown"
    except OSError:
        return "unknown"


def _acquire(path: Path, out: Path) -> int:
    """Open and lock `path`; retry if it was unlinked by its previous holder meanwhile."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise JobLockedError(
                f"{out}: another job is already writing it ({_holder(path)}, lock {path}); wait "
                "for it to finish or kill it, then rerun") from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # we locked a file its holder had just removed: take the new one


@contextmanager
def job_lock(out: str | os.PathLike) -> Iterator[None]:
    """Hold the lock of `out` for the block (pid and command line written into it).

    Raises:
        JobLockedError: naming the process that holds it.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    path = lock_path(out)
    fd = _acquire(path, out)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}: {' '.join(sys.argv)}\n".encode())
        yield
    finally:
        path.unlink(missing_ok=True)  # before unlocking: a waiter then retries on a new file
        os.close(fd)
