"""Person splits: random determinism/disjointness, standard files, MARS fixed split, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.io
from data_fixtures import make_ilidsvid_tree, make_mars_tree, make_prid_tree

from amoc.data.index import write_index
from amoc.data.mars import read_mars
from amoc.data.prid2011 import read_prid2011
from amoc.data.readers import read_dataset
from amoc.data.splits import (
    load_ilidsvid_splits,
    load_prid_splits,
    main,
    make_splits,
    random_person_splits,
)
from amoc.errors import ConfigError, DatasetError


@pytest.mark.parametrize("n", [2, 7, 300])
def test_random_splits_are_disjoint_halves(n: int) -> None:
    pids = list(range(100, 100 + n))
    splits = random_person_splits(pids[::-1], 5, seed=3)
    assert splits == random_person_splits(pids, 5, seed=3)
    for train, test in splits:
        assert not set(train) & set(test) and sorted(train + test) == pids
        assert len(test) == (n + 1) // 2 and train == sorted(train)
    if n > 2:
        assert len({tuple(t) for _, t in splits}) > 1
        assert splits != random_person_splits(pids, 5, seed=4)


def test_random_splits_need_two_persons() -> None:
    with pytest.raises(ConfigError, match="at least 2 persons"):
        random_person_splits([5, 5], 1, seed=0)


def test_ilidsvid_standard_mat(tmp_path: Path) -> None:
    # person 2 has no cam2 sequence: skipped by the reader, but still counted by ls_set
    make_ilidsvid_tree(tmp_path / "d", n_persons=4, frames_per_seq=lambda c, p: 0 if (c, p) == (1, 2) else 2)
    index = read_dataset("ilidsvid", tmp_path / "d")
    mat = tmp_path / "train_test_splits_ilidsvid.mat"
    scipy.io.savemat(str(mat), {"ls_set": np.array([[1, 3, 2, 4], [4, 2, 3, 1]])})
    records = make_splits(index, "ilidsvid", 2, seed=0, standard=mat)
    assert [(r["train_pids"], r["test_pids"]) for r in records] == [([4], [1, 3]), ([1, 3], [4])]
    assert records[0]["source"] == "standard:train_test_splits_ilidsvid.mat"
    with pytest.raises(ConfigError, match="3 splits requested but standard"):
        make_splits(index, "ilidsvid", 3, seed=0, standard=mat)


def test_ilidsvid_standard_mat_maps_indices_to_gapped_folder_numbers(tmp_path: Path) -> None:
    # As in the real dataset, folder numbers have gaps: ls_set index k is the k-th sorted cam1
    # folder (person002, person005, person007, person011), never person00k. person005 has no cam2
    # sequence: the reader skips it, ls_set still counts it, and the split drops it.
    folders = [2, 5, 7, 11]
    make_ilidsvid_tree(tmp_path / "d", frames_per_seq=lambda c, p: 0 if (c, p) == (1, 5) else 2,
                       pids=folders)
    write_index(read_dataset("ilidsvid", tmp_path / "d"), tmp_path / "index.parquet")
    mat = tmp_path / "train_test_splits_ilidsvid.mat"
    scipy.io.savemat(str(mat), {"ls_set": np.array([[1, 3, 2, 4], [4, 2, 3, 1]])})
    assert main(["--index", str(tmp_path / "index.parquet"), "--dataset", "ilidsvid",
                 "--n-splits", "2", "--standard", str(mat), "--out-dir", str(tmp_path / "s")]) == 0
    records = [json.loads((tmp_path / "s" / f"split{k}.json").read_text()) for k in (0, 1)]
    # row [1, 3 | 2, 4]: test = folders 1st, 3rd = 2, 7; train = 2nd, 4th = 5 (dropped), 11
    assert [(r["train_pids"], r["test_pids"]) for r in records] == [([11], [2, 7]),
                                                                    ([2, 7], [11])]
    assert records[0]["source"] == "standard:train_test_splits_ilidsvid.mat"


def test_prid_standard_json(tmp_path: Path, shared_data: Path) -> None:
    splits = load_prid_splits(shared_data / "splits_prid2011.json")
    assert len(splits) == 10
    assert all(len(a) == len(b) == 89 and not set(a) & set(b) for a, b in splits)
    make_prid_tree(tmp_path, n_persons=6, frames_per_seq=2)
    index = read_prid2011(tmp_path)
    records = make_splits(index, "prid2011", 10, seed=0, standard=shared_data / "splits_prid2011.json")
    for record, (train, test) in zip(records, splits):
        assert record["train_pids"] == [p for p in train if p <= 6]
        assert record["test_pids"] == [p for p in test if p <= 6]
    with pytest.raises(ConfigError, match="20 splits requested"):
        make_splits(index, "prid2011", 20, seed=0, standard=shared_data / "splits_prid2011.json")


def test_bad_standard_file(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text(json.dumps([{"train": ["person_0001"]}]))
    with pytest.raises(DatasetError, match="s.json: not a PRID split file"):
        load_prid_splits(tmp_path / "s.json")


def test_mars_fixed_split(tmp_path: Path) -> None:
    index = read_mars(make_mars_tree(tmp_path))
    [record] = make_splits(index, "mars", 1, seed=0)
    assert record["train_pids"] == [1, 2] and record["test_pids"] == [-1, 0, 3, 4]
    assert record["source"] == "fixed:mars-info"
    with pytest.raises(ConfigError, match="provides 1"):
        make_splits(index, "mars", 10, seed=0)


def test_cli_writes_one_json_per_split(tmp_path: Path) -> None:
    make_ilidsvid_tree(tmp_path / "d", n_persons=5, frames_per_seq=2)
    write_index(read_dataset("synthwalk", tmp_path / "d"), tmp_path / "index.parquet")
    base = ["--index", str(tmp_path / "index.parquet"), "--dataset", "synthwalk",
            "--n-splits", "3", "--seed", "7", "--out-dir"]
    assert main([*base, str(tmp_path / "all")]) == 0
    assert main([*base, str(tmp_path / "one"), "--only", "2"]) == 0
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == [f"split{k}.json" for k in range(3)]
    record = json.loads((tmp_path / "all" / "split2.json").read_text())
    assert record == json.loads((tmp_path / "one" / "split2.json").read_text())
    assert set(record) == {"dataset", "split", "seed", "source", "train_pids", "test_pids"}
    assert (record["dataset"], record["split"], record["seed"], record["source"]) == (
        "synthwalk", 2, 7, "random")
    assert len(record["test_pids"]) == 3 and len(record["train_pids"]) == 2
    with pytest.raises(ConfigError, match="--only 3"):
        main([*base, str(tmp_path / "x"), "--only", "3"])
    assert main([*base[:3], "synth-small", *base[4:], str(tmp_path / "named")]) == 0
    assert json.loads((tmp_path / "named" / "split0.json").read_text())["dataset"] == "synth-small"


def test_index_with_one_person_cannot_be_split() -> None:
    index = pd.DataFrame({"pid": [1, 1], "subset": ["all", "all"]})
    with pytest.raises(ConfigError, match="at least 2"):
        make_splits(index, "ilidsvid", 1, seed=0)


def test_one_random_split_is_allowed_and_zero_is_not() -> None:
    [(train, test)] = random_person_splits([3, 1, 2], 1, seed=0)
    assert sorted(train + test) == [1, 2, 3] and len(test) == 2
    with pytest.raises(ConfigError, match="n_splits must be >= 1, got 0"):
        random_person_splits([1, 2], 0, seed=0)


@pytest.mark.parametrize("ls_set", [[[1, 0, 2, 3]], [[1, 2, 3]]])
def test_ilidsvid_split_file_with_a_bad_index_table_is_refused(tmp_path: Path, ls_set) -> None:
    mat = tmp_path / "train_test_splits_ilidsvid.mat"
    scipy.io.savemat(str(mat), {"ls_set": np.array(ls_set)})
    with pytest.raises(DatasetError, match="1-based indices into the cam1 person folders"):
        load_ilidsvid_splits(mat, [2, 5, 7, 11])
