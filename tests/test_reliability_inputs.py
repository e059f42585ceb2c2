"""Reliability: bad inputs through the command line (the user's path), not library calls.

Each fault ends in either a user error (exit 2, no traceback, a message naming the file or key
and what to do) or a logged, recorded skip. The library-level checks of the same faults live in
test_data_*.py, test_flow_store.py, test_fetch.py and test_train_run.py; this file only adds the
`python -m amoc.<module>` path.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest
import scipy.io
from data_fixtures import frame_colour, make_ilidsvid_tree, make_mars_tree
from test_train_toy import build_toy, tiny_model_config

from amoc.models import ModelConfig, build_model
from amoc.train.checkpoint import save_checkpoint
from tests.faults import run_amoc, user_error

SEQ = Path("i-LIDS-VID") / "sequences"


def frame(root: Path, cam: int, pid: int, k: int) -> Path:
    return root / SEQ / f"cam{cam}" / f"person{pid:03d}" / f"cam{cam}_person{pid:03d}_{k:05d}.png"


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    """Two persons, two cameras, 4 frames each, in the iLIDS-VID layout."""
    return make_ilidsvid_tree(tmp_path / "raw", n_persons=2, frames_per_seq=4)


def index_then_cache(root: Path, work: Path, min_frames: int = 1):
    """`amoc index` then `amoc cache`; returns both results."""
    index = run_amoc("data.index_cli", "--dataset", "ilidsvid", "--root", root,
                     "--min-frames", min_frames, "--out", work / "index.parquet")
    if index.returncode != 0:
        return index, None
    cache = run_amoc("data.cache", "--index", work / "index.parquet", "--out", work / "cache",
                     "--threads", 1)
    return index, cache


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:60])


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _grey(path: Path) -> None:
    cv2.imwrite(str(path), np.full((128, 64), 90, np.uint8))


def _not_an_image(path: Path) -> None:
    path.write_text("this is not a PNG file\n")


@pytest.mark.parametrize(("damage", "needles"), [
    (_truncate, ["truncated or corrupt", "re-extract"]),
    (_empty, ["empty (0 bytes)", "re-extract"]),
    (_grey, ["3-channel colour frame", "1 channel"]),
    (_not_an_image, ["cannot decode", "re-extract"]),
])
def test_bad_frame_stops_the_cache_cli_naming_the_file(tree: Path, tmp_path: Path, damage,
                                                       needles: list[str]) -> None:
    bad = frame(tree, 2, 1, 3)
    damage(bad)
    index, cache = index_then_cache(tree, tmp_path)
    assert index.returncode == 0, index.stderr  # the index lists files; decoding is the cache's
    stderr = user_error(cache)
    assert str(bad) in stderr
    for needle in needles:
        assert needle in stderr, stderr
    assert not (tmp_path / "cache").exists()
    assert not list(tmp_path.glob(".cache.tmp-*")), "a failed build left its temporary folder"


def test_wrong_size_frame_is_resized_and_counted(tree: Path, tmp_path: Path) -> None:
    """The cache resizes any frame that is not 128x64 (INTER_AREA), as it must for MARS."""
    odd = frame(tree, 1, 2, 2)
    cv2.imwrite(str(odd), np.full((100, 50, 3), frame_colour(2, 2, 0)[::-1], np.uint8))
    _, cache = index_then_cache(tree, tmp_path)
    assert cache.returncode == 0, cache.stderr
    assert "(1 resized)" in cache.stderr
    meta = json.loads((tmp_path / "cache" / "cache.json").read_text())
    assert meta["n_resized"] == 1 and meta["shape"] == [16, 128, 64, 3]
    frames = np.load(tmp_path / "cache" / "frames.npy")
    # row of (cam1, person002, frame 2): cam1 rows come first, person002 after person001's 4
    assert frames[4 + 1].shape == (128, 64, 3)
    assert tuple(frames[4 + 1][64, 32]) == frame_colour(2, 2, 0)


def test_gaps_stray_files_and_one_camera_persons_are_logged_and_recorded(tmp_path: Path) -> None:
    root = make_ilidsvid_tree(tmp_path / "raw", n_persons=3, frames_per_seq=lambda c, p:
                              0 if (c, p) == (1, 3) else 5)
    frame(root, 1, 1, 3).unlink()  # a gap
    (frame(root, 1, 2, 1).parent / "Thumbs.db").write_bytes(b"\x00" * 10)  # a stray file
    index, cache = index_then_cache(root, tmp_path)
    assert index.returncode == 0 and cache.returncode == 0, index.stderr + cache.stderr
    assert "1 frame number(s) missing" in index.stderr
    assert "ignoring 1 non-image file(s), e.g. Thumbs.db" in index.stderr
    assert "skipping person 3" in index.stderr and "one_camera" in index.stderr
    report = json.loads(pq.read_schema(tmp_path / "index.parquet").metadata[b"amoc_report"])
    assert report["gaps"] == {"cam1/person001": 1}
    assert report["skipped_counts"] == {"one_camera": 1}
    meta = json.loads((tmp_path / "cache" / "cache.json").read_text())
    assert meta["skipped_counts"] == {"one_camera": 1} and meta["n_tracklets"] == 4
    assert meta["report"]["gaps"] == {"cam1/person001": 1}


def test_duplicate_frame_numbers_stop_the_index_cli(tree: Path, tmp_path: Path) -> None:
    first = frame(tree, 1, 2, 3)
    twin = first.with_name("cam1_person002_3.png")  # 3 again, unpadded
    twin.write_bytes(first.read_bytes())
    index, _ = index_then_cache(tree, tmp_path)
    stderr = user_error(index)
    assert "duplicate frame number 3" in stderr and first.name in stderr and twin.name in stderr
    assert "remove one" in stderr
    assert not (tmp_path / "index.parquet").exists()


def _mars_camera_contradicted(root: Path) -> str:
    info = root / "info" / "tracks_test_info.mat"
    tracks = scipy.io.loadmat(str(info))["track_test_info"].copy()
    tracks[2, 3] = 5  # test tracklet 3 (pid 3, cam 1, rows 6..9): a camera the names contradict
    scipy.io.savemat(str(info), {"track_test_info": tracks})
    return (f"{root / 'info' / 'test_name.txt'}: 0003C1T0001F002.jpg is listed in rows 6..9 of "
            "tracks_test_info.mat, whose pid/cam is 3/5")


def _mars_frame_missing(root: Path) -> str:
    (root / "bbox_train" / "0002" / "0002C3T0001F002.jpg").unlink()
    return (f"{root / 'info' / 'train_name.txt'}: 1 listed frame(s) not found under "
            f"{root / 'bbox_train'}, e.g. 0002C3T0001F002.jpg; re-extract bbox_train.zip")


@pytest.mark.parametrize("fault", [_mars_camera_contradicted, _mars_frame_missing])
def test_mars_info_disagreeing_with_the_folders_stops_the_index_cli(tmp_path: Path,
                                                                     fault) -> None:
    root = make_mars_tree(tmp_path / "mars")
    message = fault(root)  # one fault per run, and the one message that names it
    result = run_amoc("data.index_cli", "--dataset", "mars", "--root", root, "--out",
                      tmp_path / "index.parquet")
    assert f"error: {message}" in user_error(result)
    assert not (tmp_path / "index.parquet").exists()


def _tar(path: Path) -> Path:
    with tarfile.open(path, "w") as tar:
        for k in range(3):
            member = path.parent / f"f{k}.bin"
            member.write_bytes(np.random.default_rng(k).bytes(4000))
            tar.add(member, arcname=f"i-LIDS-VID/sequences/cam1/person001/f{k}.bin")
    return path


@pytest.mark.parametrize("fault", ["wrong_checksum", "truncated"])
def test_bad_archive_stops_the_fetch_cli(tmp_path: Path, fault: str) -> None:
    archive = _tar(tmp_path / "iLIDS-VID.tar")
    checksum = "sha256:" + hashlib.sha256(archive.read_bytes()).hexdigest()
    if fault == "wrong_checksum":
        checksum = "sha256:" + "0" * 64
    else:
        archive.write_bytes(archive.read_bytes()[:5000])
        checksum = ""  # no pin: extraction itself must notice the cut
    out = tmp_path / "data" / "raw"
    result = run_amoc("data.fetch", "--dataset", "ilidsvid", "--archive", archive,
                      "--checksum", checksum, "--out", out)
    stderr = user_error(result)
    assert str(archive) in stderr and "download it again" in stderr
    assert ("checksum mismatch" if fault == "wrong_checksum" else "truncated or corrupt") in stderr
    assert not out.exists() and not list(out.parent.glob(".extract.*"))


@pytest.fixture()
def toy(tmp_path: Path) -> dict:
    return build_toy(tmp_path, n_ids=4, lengths=(6, 8))


def _save_model(path: Path, **model) -> dict:
    """An untrained 'amoc-model' checkpoint (what the train CLI writes), without training."""
    cfg = ModelConfig.from_dict(tiny_model_config(2, **model))
    save_checkpoint(path, kind="amoc-model", model=build_model(cfg), model_config=asdict(cfg),
                    train_config={}, seed=0, train_seconds=0.0, epoch=1)
    return asdict(cfg)


def _poison(store: Path) -> None:
    flow = np.load(store / "flow.npy", mmap_mode="r+")
    flow[1, 3, 3, 0] = np.nan  # inside the first test probe (pid 1, camera 0, first frames)
    flow[9] = np.inf
    flow.flush()


def test_nan_flow_store_stops_the_evaluate_cli(toy: dict, tmp_path: Path) -> None:
    _save_model(tmp_path / "m.pt", variant="rcn")
    _poison(toy["flow"])
    result = run_amoc("eval.evaluate", "--model", tmp_path / "m.pt", "--cache", toy["cache"],
                      "--split", toy["split"], "--flow-store", toy["flow"], "--eval-config",
                      json.dumps({"test_lengths": [4], "tta": "none", "device": "cpu"}),
                      "--dataset", "toy", "--out", tmp_path / "rows.parquet")
    stderr = user_error(result)
    assert str(toy["flow"]) in stderr and "NaN" in stderr
    assert not (tmp_path / "rows.parquet").exists()


def test_nan_flow_store_stops_the_train_cli(toy: dict, tmp_path: Path) -> None:
    _poison(toy["flow"])
    result = run_amoc("train.run", "--cache", toy["cache"], "--split", toy["split"],
                      "--flow-store", toy["flow"], "--model-config",
                      json.dumps(tiny_model_config(2, "rcn")), "--train-config",
                      json.dumps({"epochs": 1, "seq_len": 4, "mode": "batched",
                                  "batch_pairs": 2, "device": "cpu"}),
                      "--out", tmp_path / "m.pt")
    stderr = user_error(result)
    assert str(toy["flow"]) in stderr and "NaN" in stderr
    assert not (tmp_path / "m.pt").exists()


@pytest.mark.parametrize("fault", ["other_config", "corrupt"])
def test_bad_partial_checkpoint_is_set_aside_or_stops_the_train_cli(toy: dict, tmp_path: Path,
                                                                     fault: str) -> None:
    """A partial of another config is set aside (kept, renamed, with a warning) and training
    starts afresh; a corrupt one stops the job naming it (nothing silently discarded)."""
    partial = tmp_path / "m.pt.partial"
    _save_model(partial, embedding=16)
    if fault == "corrupt":
        partial.write_bytes(partial.read_bytes()[:200])
    result = run_amoc("train.run", "--cache", toy["cache"], "--split", toy["split"],
                      "--model-config", json.dumps(tiny_model_config(2, embedding=8)),
                      "--train-config", json.dumps({"epochs": 2, "seq_len": 4,
                                                    "device": "cpu"}),
                      "--out", tmp_path / "m.pt")
    if fault == "other_config":
        assert result.returncode == 0, result.stderr[-3000:]
        assert f"set aside {partial}" in result.stderr
        assert "embedding: checkpoint 16 != requested 8" in result.stderr
        assert len(list(tmp_path.glob("m.pt.partial.stale-*"))) == 2
        assert not partial.exists() and (tmp_path / "m.pt").exists()
        return
    stderr = user_error(result)
    assert f"{partial}: checkpoint is corrupt" in stderr and "delete" in stderr
    assert partial.exists() and not (tmp_path / "m.pt").exists()  # nothing silently discarded
