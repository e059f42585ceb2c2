"""Jobs die with the workflow that started them.

SIGKILL to the snakemake process alone (not its group) used to leave a training running; after
``--unlock`` and ``--rerun-incomplete`` two copies then wrote the same output. Every
``python -m amoc.*`` job therefore watches its parent: the kernel sends SIGTERM when the direct
parent dies (``prctl(PR_SET_PDEATHSIG)``, Linux), and a thread polls the ancestors up to the
first one that is not a shell (Snakemake runs jobs through ``bash -c``, which outlives
Snakemake), comparing each one's start time so a reused pid is not mistaken for it. SIGTERM
becomes ``SystemExit``, so locks are released and temporary files removed on the way out.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
from pathlib import Path

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
WRAPPERS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "timeout", "time", "env", "nice",
                      "nohup", "stdbuf"})
MAX_ANCESTORS = 4
POLL_SECONDS = 1.0
_started = False


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, start time) of a live process from /proc, or None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), fields[19]


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def watched_ancestors(pid: int | None = None) -> list[tuple[int, str]]:
    """(pid, start time) of the parent and, through shells and wrappers, the first ancestor
    that is not one (the workflow engine); at most ``MAX_ANCESTORS``."""
    chain: list[tuple[int, str]] = []
    current = os.getppid() if pid is None else pid
    while current > 1 and len(chain) < MAX_ANCESTORS:
        stat = _stat(current)
        if stat is None:
            break
        chain.append((current, stat[1]))
        if _comm(current) not in WRAPPERS:
            break
        current = stat[0]
    return chain


def _gone(chain: list[tuple[int, str]], parent: int) -> bool:
    if not chain:  # no /proc: the parent is gone once we were re-parented
        return os.getppid() != parent
    return any((stat := _stat(pid)) is None or stat[1] != start for pid, start in chain)


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _set_pdeathsig() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: the polling thread alone
        log.debug("prctl(PR_SET_PDEATHSIG) unavailable")


def exit_with_parent() -> None:
    """Make this process exit (SIGTERM -> SystemExit) when its parent or the first non-shell
    ancestor dies. Idempotent; only from the main thread (signal handlers live there)."""
    global _started
    if _started or threading.current_thread() is not threading.main_thread():
        return
    _started = True
    parent = os.getppid()
    chain = watched_ancestors(parent) if Path("/proc/self/stat").exists() else []
    signal.signal(signal.SIGTERM, _terminate)
    _set_pdeathsig()
    me = os.getpid()

    def watch() -> None:
        while not _gone(chain, parent):
            threading.Event().wait(POLL_SECONDS)
        log.error("the process that started this job is gone; stopping")
        os.kill(me, signal.SIGTERM)

    threading.Thread(target=watch, name="amoc-lifeline", daemon=True).start()
    if _gone(chain, parent):  # died before prctl took effect
        os.kill(me, signal.SIGTERM)
