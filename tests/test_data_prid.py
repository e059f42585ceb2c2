"""PRID-2011 reader: layout, both protocols, skips."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from data_fixtures import make_prid_tree

from amoc.data.frames import parse_frame_number
from amoc.data.prid2011 import read_prid2011
from amoc.errors import ConfigError, DatasetError


def test_paper200_keeps_persons_in_both_cameras(tmp_path: Path) -> None:
    make_prid_tree(tmp_path, n_persons=3, frames_per_seq=5, extra_cam_b=2)
    index = read_prid2011(tmp_path)
    assert index["tracklet"].tolist() == [
        "cam_a/person_0001", "cam_a/person_0002", "cam_a/person_0003",
        "cam_b/person_0001", "cam_b/person_0002", "cam_b/person_0003"]
    assert index["camid"].tolist() == [0, 0, 0, 1, 1, 1]
    report = index.attrs["report"]
    assert report["options"]["protocol"] == "paper200"
    assert report["protocol_excluded"] == {"one_camera": 2, "beyond_first_200": 0}
    for paths in index["frame_paths"]:
        assert [parse_frame_number(p) for p in paths] == [1, 2, 3, 4, 5]


def test_paper200_caps_at_200_persons(tmp_path: Path) -> None:
    make_prid_tree(tmp_path, n_persons=203, frames_per_seq=1)
    index = read_prid2011(tmp_path)
    assert index["pid"].nunique() == 200 and index["pid"].max() == 200
    assert index.attrs["report"]["protocol_excluded"]["beyond_first_200"] == 3


def test_standard178_requires_more_than_21_frames(tmp_path: Path, caplog) -> None:
    lengths = {(0, 2): 21, (1, 3): 21}
    make_prid_tree(tmp_path, n_persons=4, frames_per_seq=lambda c, p: lengths.get((c, p), 22))
    with caplog.at_level(logging.WARNING):
        index = read_prid2011(tmp_path, protocol="standard178")
    assert sorted(set(index["pid"])) == [1, 4]
    report = index.attrs["report"]
    assert report["options"]["protocol"] == "standard178"
    assert report["skipped_counts"] == {"standard178": 2}
    assert "person 2" in caplog.text and "person 3" in caplog.text
    assert len(read_prid2011(tmp_path)) == 8


def test_min_frames_then_one_camera(tmp_path: Path) -> None:
    make_prid_tree(tmp_path, n_persons=3, frames_per_seq=lambda c, p: 2 if (c, p) == (1, 1) else 4)
    index = read_prid2011(tmp_path, min_frames=3)
    assert sorted(set(index["pid"])) == [2, 3]
    assert index.attrs["report"]["skipped_counts"] == {"min_frames": 1, "one_camera": 1}


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="prid_2011/multi_shot/cam_a/person_0001"):
        read_prid2011(tmp_path / "missing")
    with pytest.raises(ConfigError, match="paper200, standard178"):
        read_prid2011(tmp_path, protocol="all")
    make_prid_tree(tmp_path, n_persons=1)
    (tmp_path / "prid_2011/multi_shot/cam_a/person_0002").mkdir()
    index = read_prid2011(tmp_path / "prid_2011")
    assert index.attrs["report"]["skipped_counts"] == {"empty": 1}
