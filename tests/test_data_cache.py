"""Frame cache: round trip, offsets, resizing, atomic build, validation on open, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from data_fixtures import frame_colour, make_ilidsvid_tree, make_mars_tree

from amoc.data import cache as cache_module
from amoc.data.cache import FrameCache, build_cache
from amoc.data.cache import main as cache_main
from amoc.data.frames import read_frame
from amoc.data.ilidsvid import read_ilidsvid
from amoc.data.index import write_index
from amoc.data.mars import read_mars
from amoc.errors import DatasetError


def _lengths(camid: int, pid: int) -> int:
    return 3 + pid + camid


@pytest.fixture()
def index(tmp_path: Path):
    make_ilidsvid_tree(tmp_path / "data", n_persons=3, frames_per_seq=_lengths, pad=False)
    return read_ilidsvid(tmp_path / "data", min_frames=5)


def test_round_trip_and_offsets(tmp_path: Path, index) -> None:
    out = build_cache(index, tmp_path / "cache", threads=2)
    cache = FrameCache(out)
    assert cache.index["n_frames"].tolist() == [5, 6, 6, 7]
    assert cache.index["offset"].tolist() == [0, 5, 11, 17]
    assert cache.frames.shape == (24, 128, 64, 3) and isinstance(cache.frames, np.memmap)
    for i, row in cache.index.iterrows():
        seq = cache.sequence(i)
        expected = [frame_colour(k, row["pid"], row["camid"]) for k in range(1, row["n_frames"] + 1)]
        assert [tuple(f[64, 32]) for f in seq] == expected
    meta = json.loads((out / "cache.json").read_text())
    assert meta["shape"] == [24, 128, 64, 3] and meta["bytes"] == 24 * 128 * 64 * 3
    assert meta["n_frames"] == 24 and meta["n_resized"] == 0 and meta["resized_examples"] == []
    assert [s["item"] for s in meta["skipped"]] == ["cam1/person001", "person 1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "data"]


def test_frames_npy_is_byte_identical_to_np_save(tmp_path: Path, index, monkeypatch) -> None:
    monkeypatch.setattr(cache_module, "BATCH", 4)  # several batches, the last one partial
    out = build_cache(index, tmp_path / "cache", threads=3)
    paths = [p for paths in index["frame_paths"] for p in paths]
    expected = np.stack([cache_module.load_frame(p)[0] for p in paths])
    saved = tmp_path / "expected.npy"
    np.save(saved, expected)
    assert (out / "frames.npy").read_bytes() == saved.read_bytes()
    cache = FrameCache(out)
    for i in range(len(cache)):
        np.testing.assert_array_equal(cache.read_sequence(i), cache.sequence(i))


def test_mars_frames_are_resized(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    index = read_mars(make_mars_tree(tmp_path / "mars"))
    with caplog.at_level("INFO", logger="amoc.data.cache"):
        cache = FrameCache(build_cache(index, tmp_path / "cache", threads=2))
    assert cache.meta["n_resized"] == cache.frames.shape[0] == index["n_frames"].sum()
    first_paths = [p for paths in index["frame_paths"] for p in paths][:cache_module.RESIZED_EXAMPLES]
    examples = cache.meta["resized_examples"]
    assert [e["path"] for e in examples] == first_paths
    original = read_frame(first_paths[0]).shape[:2]
    assert all(e["size"] == list(original) for e in examples)
    logged = [r.getMessage() for r in caplog.records if "resized" in r.getMessage()]
    assert logged and f"{first_paths[0]} ({original[0]}x{original[1]})" in logged[0]
    row = cache.index.index[cache.index["tracklet"] == "test/00003-0003C1T0001"][0]
    first = cache.sequence(row)[0].astype(int)
    assert np.abs(first - np.array(frame_colour(1, 3, 0))).max() <= 3  # JPEG tolerance


def test_failed_build_leaves_nothing(tmp_path: Path, index) -> None:
    bad = Path(index.at[2, "frame_paths"][2])
    bad.write_bytes(bad.read_bytes()[:40])
    with pytest.raises(DatasetError, match=bad.name):
        build_cache(index, tmp_path / "cache", threads=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_rebuild_replaces_and_cleans_leftovers(tmp_path: Path, index) -> None:
    out = build_cache(index, tmp_path / "cache")
    (tmp_path / ".cache.tmp-killed").mkdir()
    build_cache(index.iloc[:2].reset_index(drop=True), out)
    assert FrameCache(out).frames.shape[0] == 11
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "data"]


def test_memory_is_bounded_by_batches(tmp_path: Path, index, monkeypatch) -> None:
    monkeypatch.setattr(cache_module, "BATCH", 4)
    seen = []
    original = cache_module._batches

    def spy(paths):
        for batch in original(paths):
            seen.append(len(batch))
            yield batch

    monkeypatch.setattr(cache_module, "_batches", spy)
    cache = FrameCache(build_cache(index, tmp_path / "cache", threads=2))
    assert max(seen) == 4 and sum(seen) == cache.frames.shape[0]
    assert tuple(cache.sequence(3)[-1][0, 0]) == frame_colour(7, 3, 1)


def test_open_validates(tmp_path: Path, index) -> None:
    with pytest.raises(DatasetError, match="frames.npy: missing"):
        FrameCache(tmp_path / "nothing")
    out = build_cache(index, tmp_path / "cache")
    meta = json.loads((out / "cache.json").read_text())
    meta["shape"][0] += 1
    (out / "cache.json").write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match="disagrees with cache.json"):
        FrameCache(out)
    (out / "index.parquet").unlink()
    with pytest.raises(DatasetError, match="index.parquet: missing"):
        FrameCache(out)


def test_cli(tmp_path: Path, index) -> None:
    write_index(index, tmp_path / "index.parquet")
    args = ["--index", str(tmp_path / "index.parquet"), "--out", str(tmp_path / "c"), "--threads", "1"]
    assert cache_main(args) == 0
    assert FrameCache(tmp_path / "c").meta["skipped_counts"] == {"min_frames": 1, "one_camera": 1}
