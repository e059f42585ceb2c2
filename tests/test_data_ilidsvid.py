"""iLIDS-VID / synthwalk reader, the reader registry and the index CLI."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pandas as pd
import pytest
from data_fixtures import make_ilidsvid_tree

from amoc.data.frames import parse_frame_number
from amoc.data.ilidsvid import read_ilidsvid
from amoc.data.index import COLUMNS, read_index
from amoc.data.index_cli import main as index_main
from amoc.data.readers import READERS, read_dataset
from amoc.errors import ConfigError, DatasetError


def test_index_contract(tmp_path: Path) -> None:
    make_ilidsvid_tree(tmp_path, n_persons=3, frames_per_seq=lambda c, p: 4 + p)
    index = read_ilidsvid(tmp_path)
    assert list(index.columns) == COLUMNS
    assert len(index) == 6
    assert index["camid"].tolist() == [0, 0, 0, 1, 1, 1]
    assert index["pid"].tolist() == [1, 2, 3, 1, 2, 3]
    assert index["tracklet"].tolist()[:2] == ["cam1/person001", "cam1/person002"]
    assert index["n_frames"].tolist() == [5, 6, 7, 5, 6, 7]
    assert (index["subset"] == "all").all() and not index["is_query"].any()
    assert index["pid"].dtype == "int64" and index["camid"].dtype == "int64"
    for paths in index["frame_paths"]:
        assert all(Path(p).is_absolute() and Path(p).is_file() for p in paths)
    assert index.attrs["report"]["n_skipped"] == 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_numeric_order_independent_of_listing(tmp_path: Path, seed: int) -> None:
    make_ilidsvid_tree(tmp_path, n_persons=2, frames_per_seq=12, pad=False, seed=seed)
    index = read_ilidsvid(tmp_path)
    for paths in index["frame_paths"]:
        assert [parse_frame_number(p) for p in paths] == list(range(1, 13))


def test_root_may_be_dataset_folder(tmp_path: Path) -> None:
    make_ilidsvid_tree(tmp_path, n_persons=2)
    assert len(read_ilidsvid(tmp_path / "i-LIDS-VID")) == 4


def test_missing_root_says_where(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"not found.*i-LIDS-VID/sequences/cam1/person001"):
        read_ilidsvid(tmp_path / "nowhere")


def test_wrong_layout(tmp_path: Path) -> None:
    (tmp_path / "i-LIDS-VID" / "sequences" / "cam1").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"\['cam2'\] missing"):
        read_ilidsvid(tmp_path)
    make_ilidsvid_tree(tmp_path, n_persons=1)
    (tmp_path / "i-LIDS-VID" / "sequences" / "cam2" / "images").mkdir()
    with pytest.raises(DatasetError, match="images: unexpected folder"):
        read_ilidsvid(tmp_path)


def test_duplicate_frame_numbers(tmp_path: Path) -> None:
    make_ilidsvid_tree(tmp_path, n_persons=1)
    folder = tmp_path / "i-LIDS-VID" / "sequences" / "cam1" / "person001"
    shutil.copy(folder / "cam1_person001_00002.png", folder / "cam1_person001_2.png")
    with pytest.raises(DatasetError, match="duplicate frame number 2"):
        read_ilidsvid(tmp_path)


def test_gaps_are_kept_and_recorded(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    make_ilidsvid_tree(tmp_path, n_persons=1, frames_per_seq=6)
    (tmp_path / "i-LIDS-VID/sequences/cam2/person001/cam2_person001_00003.png").unlink()
    with caplog.at_level(logging.WARNING):
        index = read_ilidsvid(tmp_path)
    assert index["n_frames"].tolist() == [6, 5]
    assert index.attrs["report"]["gaps"] == {"cam2/person001": 1}
    assert "person001" in caplog.text and "missing" in caplog.text


def test_short_sequence_and_one_camera_person_are_skipped_and_recorded(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    lengths = {(0, 2): 3, (1, 3): 0}  # person 2 short in cam1; person 3 absent from cam2
    make_ilidsvid_tree(tmp_path, n_persons=4, frames_per_seq=lambda c, p: lengths.get((c, p), 6))
    with caplog.at_level(logging.WARNING):
        index = read_ilidsvid(tmp_path, min_frames=4)
    assert sorted(set(index["pid"])) == [1, 4]
    report = index.attrs["report"]
    assert report["skipped_counts"] == {"min_frames": 1, "one_camera": 2}
    items = {s["item"] for s in report["skipped"]}
    assert items == {"cam1/person002", "person 2", "person 3"}
    assert "cam1/person002" in caplog.text and "person 3" in caplog.text
    assert report["probe_persons_on_disk"] == [1, 2, 3, 4]


def test_everything_skipped_is_an_error(tmp_path: Path) -> None:
    make_ilidsvid_tree(tmp_path, n_persons=2, frames_per_seq=3)
    with pytest.raises(DatasetError, match="no tracklets left"):
        read_ilidsvid(tmp_path, min_frames=10)
    with pytest.raises(ConfigError, match="min_frames"):
        read_ilidsvid(tmp_path, min_frames=0)


def test_registry(tmp_path: Path) -> None:
    assert set(READERS) == {"ilidsvid", "prid2011", "mars", "synthwalk"}
    make_ilidsvid_tree(tmp_path, n_persons=2)
    synth = read_dataset("synthwalk", tmp_path)
    assert (synth["dataset"] == "synthwalk").all() and len(synth) == 4
    with pytest.raises(ConfigError, match="valid names: ilidsvid, mars, prid2011, synthwalk"):
        read_dataset("market", tmp_path)
    with pytest.raises(ConfigError, match="protocol"):
        read_dataset("ilidsvid", tmp_path, protocol="paper200")


def test_index_cli_writes_parquet_with_report(tmp_path: Path) -> None:
    make_ilidsvid_tree(tmp_path / "data", n_persons=3, frames_per_seq=lambda c, p: 2 + p)
    out = tmp_path / "out" / "index.parquet"
    args = ["--dataset", "ilidsvid", "--root", str(tmp_path / "data"), "--out", str(out)]
    assert index_main([*args, "--min-frames", "4"]) == 0
    index = read_index(out)
    assert index["pid"].tolist() == [2, 3, 2, 3]
    assert isinstance(index["frame_paths"][0], list)
    assert index.attrs["report"]["skipped_counts"] == {"min_frames": 2, "one_camera": 1}
    assert sorted(p.name for p in out.parent.iterdir()) == ["index.parquet"]
    pd.testing.assert_frame_equal(index, read_ilidsvid(tmp_path / "data", min_frames=4))
