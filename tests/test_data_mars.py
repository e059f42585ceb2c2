"""MARS reader: info files, query flags, cross-checks against the image folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
from data_fixtures import MARS_TEST, make_mars_tree

from amoc.data.frames import parse_frame_number
from amoc.data.mars import load_mars_info, read_mars
from amoc.errors import DatasetError


@pytest.fixture(scope="module")
def mars_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_mars_tree(tmp_path_factory.mktemp("mars"))


def test_index_from_info_files(mars_root: Path) -> None:
    index = read_mars(mars_root)
    assert len(index) == 10
    assert index.groupby("subset").size().to_dict() == {"test": 6, "train": 4}
    assert sorted(index["camid"].unique()) == [0, 1, 2, 3, 5]
    assert {-1, 0} <= set(index["pid"])
    assert index[["camid", "pid", "tracklet"]].equals(
        index.sort_values(["camid", "pid", "tracklet"])[["camid", "pid", "tracklet"]])
    queries = index[index["is_query"]]
    assert sorted(queries["tracklet"]) == ["test/00003-0003C1T0001", "test/00005-0004C4T0001"]
    junk = index[index["pid"] == -1].iloc[0]
    assert Path(junk["frame_paths"][0]).parent.name == "00-1"
    for row in index.itertuples():
        assert [parse_frame_number(p) for p in row.frame_paths] == list(range(1, row.n_frames + 1))
        assert all(Path(p).is_file() for p in row.frame_paths)
    assert index.attrs["report"]["n_queries"] == 2


def test_min_frames_skips_are_recorded(mars_root: Path) -> None:
    index = read_mars(mars_root, min_frames=3)
    assert len(index) == 9
    assert index.attrs["report"]["skipped"][0]["item"] == "test/00002-0000C2T0001"


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="bbox_train/, bbox_test/ and info/"):
        read_mars(tmp_path / "MARS")


def test_name_list_longer_than_tracks(tmp_path: Path) -> None:
    root = make_mars_tree(tmp_path)
    names = root / "info" / "test_name.txt"
    names.write_text(names.read_text() + "0009C1T0001F001.jpg\n")
    with pytest.raises(DatasetError, match=r"test_name\.txt: has 21 names.*1\.\.20"):
        read_mars(root)


def test_listed_frame_missing_on_disk(tmp_path: Path) -> None:
    root = make_mars_tree(tmp_path)
    (root / "bbox_train" / "0002" / "0002C3T0001F002.jpg").unlink()
    with pytest.raises(DatasetError, match=r"train_name\.txt: 1 listed frame.*0002C3T0001F002"):
        read_mars(root)


def test_info_row_disagrees_with_names(tmp_path: Path) -> None:
    root = make_mars_tree(tmp_path)
    tracks = scipy.io.loadmat(str(root / "info/tracks_test_info.mat"))["track_test_info"].copy()
    tracks[2, 3] = 5  # wrong camera for 0003C1T0001
    scipy.io.savemat(str(root / "info/tracks_test_info.mat"), {"track_test_info": tracks})
    with pytest.raises(DatasetError, match="0003C1T0001F00.*pid/cam is 3/5"):
        read_mars(root)


def test_query_out_of_range(tmp_path: Path) -> None:
    root = make_mars_tree(tmp_path, query_rows=[len(MARS_TEST) + 1])
    with pytest.raises(DatasetError, match=r"query_IDX\.mat: query rows must lie in 1\.\.6"):
        read_mars(root)


def test_real_info_files(shared_data: Path) -> None:
    info = load_mars_info(shared_data / "mars-info")
    assert info.tracks["train"].shape == (8298, 4)
    assert info.tracks["test"].shape == (12180, 4)
    assert info.query.shape == (1980,)
    test = info.tracks["test"]
    assert set(np.unique(test[:, 3])) <= set(range(1, 7))
    assert {-1, 0} <= set(test[:, 2].tolist())
    # rows tile the name list: each tracklet starts right after the previous one
    for tracks in info.tracks.values():
        assert tracks[0, 0] == 1 and (tracks[1:, 0] == tracks[:-1, 1] + 1).all()
    assert (test[info.query, 2] > 0).all()
