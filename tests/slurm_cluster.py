"""A throw-away one-node SLURM cluster (munged + slurmctld + slurmd on localhost) for tests.

Everything it needs (config, munge key and socket, state, logs, ports) is private to one temp
folder, so it cannot disturb a system munge/SLURM and leaves nothing behind; daemons run in the
foreground and are stopped by PID. Needs root and Debian's `slurmctld slurmd slurm-client munge`.

Why a mount namespace: snakemake-executor-plugin-slurm-jobstep (0.6.1) removes every SLURM_*
variable, SLURM_CONF included, before its nested `srun`, so inside a job SLURM finds its config
only at /etc/slurm/slurm.conf, as on a real cluster. The daemons and snakemake therefore run in
private mount namespaces that bind our config folder over /etc/slurm; the real /etc/slurm is never
written, so no stale slurm.conf can be left behind (one would make every later `snakemake` call
wait ~10 s for a controller that is gone).
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.child_env import child_env

BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol", "unshare",
            "mount")
SYSTEM_CONF_DIR = Path("/etc/slurm")
# The node size we declare (config_overrides: not checked against the hardware). Enough for
# cache (2 threads, 2 GB) and two splits at once, so one DAG level is one SLURM round.
NODE_CPUS, NODE_MEM_MB = 4, 6000


class SlurmUnavailable(RuntimeError):
    """SLURM cannot run here; the message says why (a test skips with it)."""


def missing_requirement() -> str | None:
    """Why a local cluster cannot be started here, or None if it can be tried."""
    if os.geteuid() != 0:
        return "needs root to start munged/slurmctld/slurmd"
    missing = [b for b in BINARIES if shutil.which(b) is None]
    if missing:
        return (f"missing {', '.join(missing)}: apt-get install -y --no-install-recommends "
                "slurmctld slurmd slurm-client munge")
    try:
        pwd.getpwnam("munge")
    except KeyError:
        return "no 'munge' user (install the munge package)"
    if not SYSTEM_CONF_DIR.is_dir():
        return f"{SYSTEM_CONF_DIR} does not exist (it is the mount point for the test's config)"
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm is not installed (pip install '.[slurm]')"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(work: Path, munge_socket: Path, node: str) -> Path:
    """`work`/etc/{slurm,gres,cgroup}.conf for one node `node` at 127.0.0.1; returns slurm.conf.

    State, spool and logs go to `work`. No accounting and no cgroups (containers). MinJobAge stays
    >= 120 s, else the snakemake plugin silently switches from squeue to sacct, which fails
    without accounting.
    """
    conf_dir = work / "etc"
    for sub in (conf_dir, work / "state", work / "spool"):
        sub.mkdir(parents=True, exist_ok=True)
    lines = {
        "ClusterName": "amoctest",
        "SlurmctldHost": f"{node}(127.0.0.1)",
        "SlurmctldPort": _free_port(),
        "SlurmdPort": _free_port(),
        "SlurmUser": "root",
        "AuthType": "auth/munge",
        "CredType": "cred/munge",
        "AuthInfo": f"socket={munge_socket}",
        "StateSaveLocation": work / "state",
        "SlurmdSpoolDir": work / "spool",
        "SlurmctldPidFile": work / "slurmctld.pid",
        "SlurmdPidFile": work / "slurmd.pid",
        "SlurmctldLogFile": work / "slurmctld.log",
        "SlurmdLogFile": work / "slurmd.log",
        "ProctrackType": "proctrack/linuxproc",
        "TaskPlugin": "task/none",
        "MpiDefault": "none",
        "AccountingStorageType": "accounting_storage/none",
        "JobAcctGatherType": "jobacct_gather/none",
        "SelectType": "select/cons_tres",
        "SelectTypeParameters": "CR_Core_Memory",
        "SlurmdParameters": "config_overrides",
        "GresTypes": "gpu",
        "ReturnToService": 2,
        "MinJobAge": 300,
    }
    text = "".join(f"{key}={value}\n" for key, value in lines.items())
    text += (f"NodeName={node} NodeAddr=127.0.0.1 CPUs={NODE_CPUS} RealMemory={NODE_MEM_MB} Gres=gpu:1 "
             "State=UNKNOWN\n"
             f"PartitionName=debug Nodes={node} Default=YES MaxTime=INFINITE State=UP\n")
    (conf_dir / "slurm.conf").write_text(text)
    # Without File= the node goes INVAL; /dev/null stands in for a GPU device.
    (conf_dir / "gres.conf").write_text(f"NodeName={node} Name=gpu File=/dev/null\n")
    (conf_dir / "cgroup.conf").write_text("CgroupAutomount=no\n")
    return conf_dir / "slurm.conf"


@dataclass
class SlurmCluster:
    """A running cluster: `env` points SLURM clients (sbatch, squeue, snakemake) at it."""

    work: Path
    env: dict[str, str]
    procs: list[subprocess.Popen] = field(default_factory=list)

    def wrap(self, cmd: list[str]) -> list[str]:
        """`cmd` in a private mount namespace where /etc/slurm is our config (same PID: exec)."""
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                f'mount --bind "$0" {SYSTEM_CONF_DIR} && exec "$@"', str(self.work / "etc"), *cmd]

    def start(self, name: str, cmd: list[str], **kwargs) -> None:
        """Start a daemon in the foreground, its console output in `work`/<name>.console.log."""
        with open(self.work / f"{name}.console.log", "wb") as out:
            self.procs.append(subprocess.Popen(cmd, env=self.env, stdout=out,
                                               stderr=subprocess.STDOUT, **kwargs))

    def run(self, *cmd: str, timeout: float = 30) -> str:
        """Run a SLURM client command against this cluster; its stdout."""
        return subprocess.run(cmd, env=self.env, capture_output=True, text=True, check=True,
                              timeout=timeout).stdout

    def logs(self) -> str:
        """The tail of every daemon log, for failure messages."""
        tails = []
        for log in sorted(self.work.glob("*.log")):
            tails.append(f"--- {log.name}\n" + "\n".join(log.read_text().splitlines()[-15:]))
        return "\n".join(tails)


def _start_munged(cluster: SlurmCluster, munge_dir: Path) -> None:
    """munged as user munge, with its own key and socket; munge refuses root-owned/open dirs."""
    user = pwd.getpwnam("munge")
    key = munge_dir / "munge.key"
    key.write_bytes(os.urandom(128))
    for path in (munge_dir, key):
        os.chown(path, user.pw_uid, user.pw_gid)
    key.chmod(0o600)
    munge_dir.chmod(0o755)  # root daemons and clients must reach the socket
    cluster.start(
        "munged",
        ["munged", "--foreground", "--force", f"--socket={munge_dir / 'munge.socket'}",
         f"--key-file={key}", f"--pid-file={munge_dir / 'munged.pid'}",
         f"--log-file={munge_dir / 'munged.log'}", f"--seed-file={munge_dir / 'munged.seed'}"],
        user=user.pw_uid, group=user.pw_gid,
    )


def _node_states(env: dict[str, str]) -> list[str]:
    """Node states from sinfo; none while the controller is not answering yet."""
    try:
        return subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], env=env, capture_output=True,
                              text=True, timeout=10, check=False).stdout.split()
    except subprocess.TimeoutExpired:
        return []


def _wait_for(check: Callable[[], bool], what: str, cluster: SlurmCluster, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = [p.args[0] for p in cluster.procs if p.poll() is not None]
        if dead:
            raise SlurmUnavailable(f"{', '.join(dead)} exited while waiting for {what}\n"
                                   + cluster.logs())
        if check():
            return
        time.sleep(0.5)
    raise SlurmUnavailable(f"timed out after {timeout:.0f} s waiting for {what}\n" + cluster.logs())


def _stop(procs: list[subprocess.Popen]) -> None:
    """Stop the daemons we started, newest first, by PID (SIGTERM, then SIGKILL)."""
    for proc in reversed(procs):
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def local_cluster(work: Path, timeout: float = 90) -> Iterator[SlurmCluster]:
    """Start munged, slurmctld and slurmd; yield once the node is idle; always stop them.

    Raises SlurmUnavailable (with the daemon logs) if the node does not come up in `timeout` s.
    """
    reason = missing_requirement()
    if reason:
        raise SlurmUnavailable(reason)
    node = socket.gethostname().split(".")[0]
    munge_dir = Path(tempfile.mkdtemp(prefix="amoc-munge-"))
    conf = write_config(work, munge_dir / "munge.socket", node)
    env = child_env(SLURM_CONF=str(conf))  # for clients outside the namespaces
    cluster = SlurmCluster(work, env)
    try:
        _start_munged(cluster, munge_dir)
        _wait_for((munge_dir / "munge.socket").exists, "the munge socket", cluster, 15)
        cluster.start("slurmctld", cluster.wrap(["slurmctld", "-D"]))
        cluster.start("slurmd", cluster.wrap(["slurmd", "-D", "-N", node]))
        _wait_for(lambda: _node_states(env) == ["idle"], f"node {node} to be idle in sinfo",
                  cluster, timeout)
        yield cluster
    finally:
        _stop(cluster.procs)
        shutil.rmtree(munge_dir, ignore_errors=True)
