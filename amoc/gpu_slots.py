"""GPU slots for local runs: every GPU job gets its own CUDA_VISIBLE_DEVICES, at most k per GPU.

Snakemake never assigns GPU ids locally (its issue #281), so on a multi-GPU box every `gpu=1`
job would land on `cuda:0`. With the config setting ``gpus: {ids: [0, 1] | auto, jobs_per_gpu:
k}`` the GPU rules run their command through

    python -m amoc.gpu_slots run --slots-dir results/.gpu-slots --ids 0,1 --per-gpu k -- CMD...

which takes a free slot (one lock file per GPU id and slot number, ``fcntl.flock``), sets
CUDA_VISIBLE_DEVICES to that id and execs CMD with the lock still open. The kernel drops the
lock when the job's process ends or dies (SIGKILL included): no PID files to go stale.
SLURM runs are unchanged: the prefix is empty unless Snakemake's executor runs jobs locally
(SLURM assigns GPUs itself). Torch-free, so that it adds milliseconds to each job.
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import math
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from amoc.cli import run_command
from amoc.errors import ConfigError

log = logging.getLogger(__name__)

KEY = "gpus/ids"
SLOTS_DIR = "results/.gpu-slots"
POLL_S = 1.0
_SMI_GPU = re.compile(r"^GPU (\d+):.*?(?:\(UUID: (GPU-[^)]+)\))?$")


def visible_gpus(env: Mapping[str, str] | None = None,
                 smi: Callable[[], str | None] | None = None) -> list[str] | None:
    """Ids this process may hand out: CUDA_VISIBLE_DEVICES if set, else `nvidia-smi -L`.

    Returns None when neither says anything (no variable, no nvidia-smi). From nvidia-smi both
    the index and the GPU's UUID are valid ids.
    """
    env = os.environ if env is None else env
    if "CUDA_VISIBLE_DEVICES" in env:
        return [i.strip() for i in env["CUDA_VISIBLE_DEVICES"].split(",") if i.strip()]
    listing = (smi or _nvidia_smi_list)()
    if listing is None:
        return None
    ids: list[str] = []
    for line in listing.splitlines():
        match = _SMI_GPU.match(line.strip())
        if match:
            ids += [g for g in match.groups() if g]
    return ids


def _nvidia_smi_list() -> str | None:
    try:
        return subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True,
                              timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None


def resolve_ids(ids: str | Sequence[str | int], env: Mapping[str, str] | None = None,
                smi: Callable[[], str | None] | None = None) -> list[str]:
    """The GPU ids to use: ``"auto"`` = every visible GPU; a list is checked against them.

    Raises ConfigError naming ``gpus/ids`` when a listed id does not exist or no GPU is found.
    """
    env = os.environ if env is None else env
    visible = visible_gpus(env, smi)
    where = "CUDA_VISIBLE_DEVICES" if "CUDA_VISIBLE_DEVICES" in env else "nvidia-smi -L"
    if ids == "auto":
        if not visible:
            raise ConfigError(f"{KEY} is 'auto' but no GPU is visible ({where} lists none); "
                              "list the ids, or run where GPUs are visible")
        return [i for i in visible if not i.startswith("GPU-")] or visible
    wanted = [str(i) for i in ids]
    missing = [i for i in wanted if visible is None or i not in visible]
    if missing:
        shown = "nothing (no CUDA_VISIBLE_DEVICES, no nvidia-smi)" if visible is None else visible
        raise ConfigError(f"{KEY} lists GPU id(s) {missing} that do not exist here: {where} "
                          f"shows {shown}; fix {KEY} or use 'ids: auto'")
    return wanted


def slot_order(ids: Sequence[str], per_gpu: int) -> list[tuple[str, int]]:
    """Slots in the order they are tried: slot 0 of every GPU first, so jobs spread out."""
    return [(gpu, j) for j in range(per_gpu) for gpu in ids]


def try_acquire(slots_dir: Path, ids: Sequence[str], per_gpu: int) -> tuple[str, int] | None:
    """Lock the first free slot; returns (gpu id, lock fd) or None when all are taken.

    The fd is inheritable so that the lock survives `exec` and lives exactly as long as the job.
    """
    slots_dir.mkdir(parents=True, exist_ok=True)
    for gpu, j in slot_order(ids, per_gpu):
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", gpu)
        fd = os.open(slots_dir / f"gpu{name}.slot{j}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        os.set_inheritable(fd, True)
        return gpu, fd
    return None


def acquire(slots_dir: Path, ids: Sequence[str], per_gpu: int,
            poll_s: float = POLL_S) -> tuple[str, int]:
    """Block (polling) until a slot is free, then hold it; returns (gpu id, lock fd)."""
    waited = False
    while (got := try_acquire(slots_dir, ids, per_gpu)) is None:
        if not waited:
            log.info("all %d GPU slots busy; waiting", len(ids) * per_gpu)
            waited = True
        time.sleep(poll_s)
    return got


def shell_prefix(setting: Mapping | None, local: bool, slots_dir: str = SLOTS_DIR) -> str:
    """The wrapper command a GPU rule's shell line starts with ('' without the setting or
    off the local executor)."""
    if not setting or not local:
        return ""
    ids = setting["ids"]
    ids_arg = ids if ids == "auto" else ",".join(str(i) for i in ids)
    return (f"python -m amoc.gpu_slots run --slots-dir {slots_dir} "
            f"--ids {ids_arg} --per-gpu {int(setting.get('jobs_per_gpu', 1))} -- ")


class ShellPrefix:
    """`shell_prefix` evaluated when Snakemake formats a job's command, i.e. once the executor
    is known (it is not while the Snakefile is parsed). Used as a rule param: the rule text
    stays the same with and without the setting and Snakemake does not record an object param,
    so switching it on triggers neither code- nor params-change reruns."""

    def __init__(self, setting: Mapping | None, is_local: Callable[[], bool]) -> None:
        self.setting, self.is_local = setting, is_local

    def __format__(self, spec: str) -> str:
        return shell_prefix(self.setting, self.setting is not None and self.is_local())


def slot_count(setting: Mapping) -> int:
    """G x k: how many GPU jobs may run at once (the workflow's `gpu` resource total)."""
    return len(resolve_ids(setting["ids"])) * int(setting.get("jobs_per_gpu", 1))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m amoc.gpu_slots",
                                     description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run CMD on a free GPU slot")
    run.add_argument("--slots-dir", default=SLOTS_DIR, type=Path)
    run.add_argument("--ids", required=True, help="comma-separated GPU ids, or 'auto'")
    run.add_argument("--per-gpu", type=int, default=1, help="k: jobs allowed on one GPU")
    run.add_argument("--poll", type=float, default=POLL_S, help="seconds between tries")
    run.add_argument("cmd", nargs=argparse.REMAINDER, help="-- the command to run")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Take a slot, then exec the command with CUDA_VISIBLE_DEVICES set (never returns on
    success: the job replaces this process and holds the lock until it exits)."""
    args = parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        raise ConfigError("gpu_slots run: no command given after '--'")
    if args.per_gpu < 1:
        raise ConfigError("gpus/jobs_per_gpu must be >= 1")
    if not (math.isfinite(args.poll) and args.poll > 0):
        raise ConfigError(f"gpu_slots run: --poll must be a positive number of seconds, got "
                          f"{args.poll}")
    if shutil.which(cmd[0]) is None:
        raise ConfigError(f"gpu_slots run: command {cmd[0]!r} not found or not executable "
                          "(check the rule's command and PATH)")
    ids = resolve_ids("auto" if args.ids == "auto" else args.ids.split(","))
    gpu, _fd = acquire(args.slots_dir, ids, args.per_gpu, args.poll)
    log.info("GPU slot on CUDA_VISIBLE_DEVICES=%s (%d per GPU)", gpu, args.per_gpu)
    sys.stderr.flush()
    try:
        os.execvpe(cmd[0], cmd, {**os.environ, "CUDA_VISIBLE_DEVICES": gpu})
    except OSError as err:
        raise ConfigError(f"gpu_slots run: cannot run {cmd[0]!r} ({err})") from err
    return 1  # not reached


if __name__ == "__main__":
    raise SystemExit(run_command(main))
