"""Clear errors for resource and input faults: a full disk in every writer, stale temp files,
gpu_slots misuse, overlapping splits, the frame cache's folder mode, diverged runs."""

from __future__ import annotations

import errno
import json
import os
import time
from collections import namedtuple
from pathlib import Path

import pytest
import torch
from test_data_cache import index  # noqa: F401  (fixture)
from test_flow_store import toy_cache  # noqa: F401  (fixture)
from test_results import rows_for
from test_train_toy import build_toy

from amoc import gpu_slots
from amoc.atomic import DiskFullError, write_atomic
from amoc.cli import run_command
from amoc.data.cache import build_cache
from amoc.errors import DatasetError
from amoc.flow import store as flow_store
from amoc.flow.partial import PARTIAL_FLOW, PartialStore
from amoc.models import MotionNet
from amoc.report.results import write_rows
from amoc.train import pretrain_motion
from amoc.train.checkpoint import save_checkpoint
from amoc.train.guard import DivergenceError, check_pretrained_net, check_training_loss
from amoc.train.inputs import read_split


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_checkpoint_disk_full_names_path_and_size(tmp_path: Path, monkeypatch) -> None:
    """torch reports a full disk as "unexpected pos" with no word of space."""
    def torch_full(obj, path):
        Path(path).write_bytes(b"PK" * 100)
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 0")

    monkeypatch.setattr(torch, "save", torch_full)
    path = tmp_path / "m.pt"
    with pytest.raises(DiskFullError, match=r"m\.pt: disk full while writing \(needs about "
                                            r"[\d.]+ KiB, [\d.]+ [KMG]i?B free"):
        save_checkpoint(path, kind="motion-net", model=MotionNet(0.125), model_config={})
    assert list(tmp_path.iterdir()) == []


def test_parquet_disk_full_names_the_path(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("pandas.DataFrame.to_parquet", _enospc)
    with pytest.raises(DiskFullError, match=r"rows\.parquet: disk full while writing"):
        write_rows(rows_for(0, 0.5), tmp_path / "rows.parquet")
    assert list(tmp_path.iterdir()) == []


def test_flow_store_disk_full_names_the_partial(toy_cache: Path, tmp_path: Path,  # noqa: F811
                                                monkeypatch) -> None:
    monkeypatch.setattr(PartialStore, "write_rows", lambda self, start, rows: _enospc())
    with pytest.raises(DiskFullError, match=rf"{PARTIAL_FLOW}: disk full while writing"):
        flow_store.build_flow_store(toy_cache, "farneback", tmp_path / "flow")
    assert not PartialStore.exists(tmp_path / "flow")  # nothing done: no store-sized leftover


def test_flow_store_checks_space_when_a_partial_exists(toy_cache: Path, tmp_path: Path,  # noqa: F811
                                                       monkeypatch) -> None:
    out = tmp_path / "flow"
    real_mark = PartialStore.mark_done

    def die_after_first(self, tracklets):
        real_mark(self, tracklets)
        if self.n_done():
            raise KeyboardInterrupt  # killed after a tracklet is done: the partial stays

    monkeypatch.setattr(PartialStore, "mark_done", die_after_first)
    with pytest.raises(KeyboardInterrupt):
        flow_store.build_flow_store(toy_cache, "farneback", out)
    assert PartialStore.exists(out)
    checked = []
    monkeypatch.setattr(flow_store, "_check_space", lambda folder, n: checked.append(n))
    monkeypatch.setattr(PartialStore, "mark_done", real_mark)
    flow_store.build_flow_store(toy_cache, "farneback", out)
    assert checked and checked[0] > 0


def test_space_check_counts_what_a_sparse_partial_has_not_written(tmp_path: Path,
                                                                  monkeypatch) -> None:
    with open(tmp_path / PARTIAL_FLOW, "wb") as fh:
        fh.truncate(2**30)  # sparse: nothing written yet
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(flow_store.shutil, "disk_usage", lambda p: usage(2**40, 0, 2**29))
    with pytest.raises(DatasetError, match=r"needs 1\.00 GiB more but only 0\.50 GiB are free"):
        flow_store._check_space(tmp_path, 2**30)


def test_stale_temporaries_of_a_killed_write_are_removed(tmp_path: Path) -> None:
    path = tmp_path / "X.parquet"
    old, fresh = tmp_path / ".X.parquet.dead1234.tmp", tmp_path / ".X.parquet.live5678.tmp"
    for tmp in (old, fresh):
        tmp.write_bytes(b"half")
    os.utime(old, (time.time() - 3600, time.time() - 3600))  # left before this process began
    other = tmp_path / ".Y.parquet.dead1234.tmp"
    other.write_bytes(b"half")
    os.utime(other, (time.time() - 3600, time.time() - 3600))
    write_atomic(path, lambda p: p.write_bytes(b"rows"))
    assert not old.exists() and fresh.exists() and other.exists() and path.read_bytes() == b"rows"


@pytest.mark.parametrize(("argv", "message"), [
    (["--poll", "-1", "--", "true"], "--poll must be a positive number of seconds"),
    (["--", "no-such-command-xyz"], "command 'no-such-command-xyz' not found"),
])
def test_gpu_slots_misuse_is_a_clear_error(tmp_path: Path, capsys, argv, message) -> None:
    code = run_command(gpu_slots.main, ["run", "--slots-dir", str(tmp_path), "--ids", "0",
                                        *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err


def test_split_with_overlapping_persons_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "split0.json"
    path.write_text(json.dumps({"train_pids": [1, 2, 3], "test_pids": [3, 4]}))
    with pytest.raises(DatasetError, match=r"split0\.json: 1 person\(s\) are both training and "
                                           r"test persons \(e\.g\. \[3\]\)"):
        read_split(path)


def test_frame_cache_folder_follows_the_umask(tmp_path: Path, index) -> None:  # noqa: F811
    umask = os.umask(0o022)
    try:
        out = build_cache(index, tmp_path / "cache", threads=1)
    finally:
        os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o755


@pytest.mark.parametrize(("losses", "diverged"), [
    ([1.0, 0.8, 0.7], False), ([1.0, 5.0, 900.0], False), ([1.0, 2.0, 2e3], True),
    ([1.0, float("nan")], True), ([2.6e12], True), ([0.0, 0.0], False),
])
def test_training_guard(losses: list[float], diverged: bool) -> None:
    history = [{"epoch": i + 1, "loss": v} for i, v in enumerate(losses)]
    if not diverged:
        check_training_loss(history, lr=1e-3)
        return
    with pytest.raises(DivergenceError, match=rf"epoch {len(losses)}: .*lower train\.lr \(now 10\)"):
        check_training_loss(history, lr=10.0)


def test_pretrained_net_far_worse_than_zero_flow_stops_the_job(tmp_path: Path,
                                                               monkeypatch) -> None:
    check_pretrained_net(0.5, 0.8, lr=1e-3)
    check_pretrained_net(1.0, 0.1, lr=1e-3)  # near-static data: within 1 px of zero flow
    toy = build_toy(tmp_path, n_ids=4, lengths=(4, 6))
    monkeypatch.setattr(pretrain_motion, "heldout_epe", lambda *a: (18.7, 0.8))
    out = tmp_path / "motion.pt"
    with pytest.raises(DivergenceError, match=r"EPE is 18\.7 px, more than 5x zero flow's 0\.8 px"
                                              r".*lower pretrain\.lr \(now 1\)"):
        pretrain_motion.main([
            "--cache", str(toy["cache"]), "--flow-store", str(toy["flow"]), "--width", "0.125",
            "--colour", "rgb", "--out", str(out), "--pretrain-config",
            json.dumps({"iterations": 2, "batch_pairs": 2, "lr": 1.0, "heldout_tracklets": 2})])
    assert not out.exists()
