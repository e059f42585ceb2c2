"""Flow store: round trip, units and alignment, resume after interruption, NaN refusal."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from amoc.errors import ConfigError, DatasetError
from amoc.flow import FLOW_METHODS, FlowStore, compute_flow
from amoc.flow import store as flow_store
from amoc.flow.layout import index_fingerprint
from amoc.flow.partial import PARTIAL_DONE, PARTIAL_FLOW, PartialStore
from amoc.flow.synthetic import make_sequence


class Killed(Exception):
    """Raised by a patched worker to simulate the job dying mid-way."""


SHIFTS = [(1.0, 0.0), (0.0, -1.0), (0.5, 0.5)]  # per-frame motion of each synthetic tracklet


def write_cache(directory: Path, sequences: list[np.ndarray], names: list[str]) -> Path:
    """A frame cache per the file contract: frames.npy, index.parquet (with offset), cache.json."""
    directory.mkdir(parents=True)
    frames = np.concatenate(sequences)
    np.save(directory / "frames.npy", frames)
    counts = np.array([len(s) for s in sequences], np.int64)
    index = pd.DataFrame({
        "dataset": "toy", "pid": np.arange(len(names), dtype=np.int64),
        "camid": np.zeros(len(names), np.int64), "tracklet": names, "n_frames": counts,
        "frame_paths": [[f"{n}/{t:04d}.png" for t in range(c)] for n, c in zip(names, counts)],
        "subset": "all", "is_query": False,
        "offset": np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64),
    })
    index.to_parquet(directory / "index.parquet", index=False)
    (directory / "cache.json").write_text(json.dumps({"shape": list(frames.shape)}))
    return directory


@pytest.fixture
def toy_cache(tmp_path: Path) -> Path:
    lengths = (5, 4, 6)
    sequences = [make_sequence(n, shift, seed=i)
                 for i, (n, shift) in enumerate(zip(lengths, SHIFTS))]
    return write_cache(tmp_path / "cache", sequences, [f"cam1/person{i:03d}" for i in range(3)])


def test_round_trip_units_and_alignment(toy_cache: Path, tmp_path: Path) -> None:
    out = flow_store.build_flow_store(toy_cache, "dis", tmp_path / "toy" / "dis", threads=2)
    store = FlowStore(out)
    assert store.flow.dtype == np.float16 and store.flow.shape == (15, 64, 32, 2)
    assert sorted(p.name for p in out.iterdir()) == ["flow.npy", "meta.json"]
    index = pd.read_parquet(toy_cache / "index.parquet")
    assert store.meta["index_sha256"] == index_fingerprint(index)
    assert store.meta["method"] == "dis" and store.meta["parameters"] == {"preset": "medium"}
    assert store.meta["n_frames"] == 15 and store.meta["opencv"] == cv2.__version__
    for (offset, count), shift in zip(index[["offset", "n_frames"]].to_numpy(), SHIFTS):
        rows = store.rows(offset, count).astype(np.float32)
        assert (rows[-1] == 0).all()  # last frame of every tracklet
        # 128x64 motion of `shift` is shift / 2 on the 64x32 grid (interior, away from borders).
        interior = np.median(rows[:-1, 8:-8, 6:-6].reshape(-1, 2), axis=0)
        np.testing.assert_allclose(interior, np.array(shift) / 2, atol=0.1)


def test_rows_match_direct_computation(toy_cache: Path, tmp_path: Path) -> None:
    store = FlowStore(flow_store.build_flow_store(toy_cache, "farneback", tmp_path / "s"))
    frames = np.load(toy_cache / "frames.npy")
    # The contract, written out: tracklet 1 (rows 5..8) holds flow from frame i to i+1 computed
    # at 128x64, area-resized to 64x32 and halved, then a zero row.
    expected = np.zeros((4, 64, 32, 2), np.float32)
    for t in range(3):
        full = compute_flow("farneback", frames[5 + t], frames[6 + t])
        expected[t] = cv2.resize(full, (32, 64), interpolation=cv2.INTER_AREA) / 2
    np.testing.assert_array_equal(store.rows(5, 4), expected.astype(np.float16))


def test_resume_after_interruption(toy_cache: Path, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "resume"
    real, calls, die_at_call = flow_store._compute_one, [], [2]

    def counting(cache, method, i, dataset):
        calls.append(i)
        if len(calls) in die_at_call:
            raise Killed  # stands in for the job being killed
        return real(cache, method, i, dataset)

    monkeypatch.setattr(flow_store, "_compute_one", counting)
    with pytest.raises(Killed):
        flow_store.build_flow_store(toy_cache, "dis", out, threads=1)
    assert not (out / "flow.npy").exists()  # nothing looks complete
    assert np.load(out / PARTIAL_DONE).tolist() == [1, 0, 0]
    with pytest.raises(DatasetError, match="no complete flow store"):
        FlowStore(out)
    calls.clear()
    die_at_call.clear()
    flow_store.build_flow_store(toy_cache, "dis", out, threads=1)
    assert sorted(calls) == [1, 2]  # tracklet 0 was not recomputed
    fresh = FlowStore(flow_store.build_flow_store(toy_cache, "dis", tmp_path / "fresh"))
    np.testing.assert_array_equal(FlowStore(out).flow, fresh.flow)
    assert not (out / PARTIAL_FLOW).exists()


def test_partial_store_writes_plain_npy_files_and_resumes(tmp_path: Path) -> None:
    key, rng = {"method": "dis"}, np.random.default_rng(0)
    partial = PartialStore.open(tmp_path, key, n_rows=7, n_tracklets=3)
    rows = rng.normal(size=(3, 64, 32, 2)).astype(np.float16)
    partial.write_rows(2, rows)
    partial.mark_done([1])
    partial.close()
    on_disk = np.load(tmp_path / PARTIAL_FLOW)  # a valid .npy, zeros where nothing was written
    assert on_disk.shape == (7, 64, 32, 2) and on_disk.dtype == np.float16
    np.testing.assert_array_equal(on_disk[2:5], rows)
    assert not on_disk[:2].any() and not on_disk[5:].any()
    assert np.load(tmp_path / PARTIAL_DONE).tolist() == [0, 1, 0]
    resumed = PartialStore.open(tmp_path, key, n_rows=7, n_tracklets=3)
    assert resumed.pending().tolist() == [0, 2] and resumed.n_done() == 1
    resumed.close()
    with open(tmp_path / PARTIAL_FLOW, "r+b") as fh:  # cut short: not resumed, started afresh
        fh.truncate(1000)
    fresh = PartialStore.open(tmp_path, key, n_rows=7, n_tracklets=3)
    assert fresh.n_done() == 0 and np.load(tmp_path / PARTIAL_FLOW).shape[0] == 7
    fresh.close()
    other = PartialStore.open(tmp_path, {"method": "farneback"}, n_rows=7, n_tracklets=3)
    assert other.n_done() == 0
    other.close()


def test_partial_for_other_method_is_discarded(toy_cache: Path, tmp_path: Path, monkeypatch):
    out = tmp_path / "switch"
    monkeypatch.setattr(flow_store, "_compute_one", _raise_on_third(flow_store._compute_one))
    with pytest.raises(Killed):
        flow_store.build_flow_store(toy_cache, "dis", out)
    monkeypatch.undo()
    flow_store.build_flow_store(toy_cache, "farneback", out)
    fresh = FlowStore(flow_store.build_flow_store(toy_cache, "farneback", tmp_path / "fresh"))
    np.testing.assert_array_equal(FlowStore(out).flow, fresh.flow)


def _raise_on_third(real):
    calls = []

    def wrapped(*args):
        calls.append(1)
        if len(calls) == 3:
            raise Killed
        return real(*args)

    return wrapped


def test_nan_flow_is_refused_naming_the_tracklet(toy_cache: Path, tmp_path: Path, monkeypatch):
    def nan_on_one_frame(frame0, frame1):
        flow = np.zeros((*frame0.shape[:2], 2), np.float32)
        flow[3, 3] = np.nan if frame0[0, 0, 0] == nan_frame[0, 0, 0] else 0.0
        return flow

    nan_frame = np.load(toy_cache / "frames.npy")[11]  # tracklet 2, frame 2
    monkeypatch.setitem(FLOW_METHODS, "broken", nan_on_one_frame)
    with pytest.raises(DatasetError, match=r"'toy'.*'cam1/person002'"):
        flow_store.build_flow_store(toy_cache, "broken", tmp_path / "broken")
    assert not (tmp_path / "broken" / "flow.npy").exists()


def test_store_with_nan_or_wrong_shape_is_refused(toy_cache: Path, tmp_path: Path) -> None:
    out = flow_store.build_flow_store(toy_cache, "dis", tmp_path / "bad")
    flow = np.load(out / "flow.npy", mmap_mode="r+")
    flow[7, 1, 2, 0] = np.inf
    flow.flush()
    del flow
    with pytest.raises(DatasetError, match="row 7"):
        FlowStore(out)
    FlowStore(out, check_finite=False)  # shape still fine
    meta = json.loads((out / "meta.json").read_text())
    (out / "meta.json").write_text(json.dumps({**meta, "n_frames": 14}))
    with pytest.raises(DatasetError, match="expected float16"):
        FlowStore(out, check_finite=False)


def test_cli_and_unknown_method(toy_cache: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli"
    assert flow_store.main(["--cache", str(toy_cache), "--method", "lk", "--out", str(out)]) == 0
    assert FlowStore(out).meta["parameters"] == {"grid_step": 8, "k": 64}
    with pytest.raises(ConfigError, match="valid methods"):
        flow_store.main(["--cache", str(toy_cache), "--method", "nope", "--out", str(out)])


def test_real_frames(shared_data: Path, tmp_path: Path) -> None:
    root = shared_data / "real-mini" / "i-LIDS-VID" / "sequences"
    folders = sorted(p for p in (root / "cam1").iterdir() if p.is_dir())[:2]
    sequences = [_read_sequence(folder, 6) for folder in folders]
    cache = write_cache(tmp_path / "cache", sequences, [f"cam1/{f.name}" for f in folders])
    store = FlowStore(flow_store.build_flow_store(cache, "epic", tmp_path / "epic", threads=2))
    assert store.flow.shape == (12, 64, 32, 2)
    flow = store.flow.astype(np.float32)
    assert np.isfinite(flow).all() and np.abs(flow).max() < 16  # walking: a few pixels per frame
    assert (flow[[5, 11]] == 0).all() and np.abs(flow[:5]).max() > 0


def _read_sequence(folder: Path, n_frames: int) -> np.ndarray:
    """The first `n_frames` frames of a folder in numeric order, RGB uint8 (n, 128, 64, 3)."""
    paths = sorted(folder.glob("*.png"), key=lambda p: int(p.stem.rsplit("_", 1)[-1]))[:n_frames]
    frames = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in paths]
    return np.stack([cv2.resize(f, (64, 128), interpolation=cv2.INTER_AREA) for f in frames])
