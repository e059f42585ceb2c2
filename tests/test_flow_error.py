"""Flow error against synthwalk's ground truth: held-out pairs, zero flow, methods, motion nets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from amoc.data.cache import FrameCache, build_cache
from amoc.data.ilidsvid import read_ilidsvid
from amoc.data.synthwalk.generate import generate_synthwalk
from amoc.errors import ConfigError
from amoc.eval.flow_error import flow_error_table, heldout_pairs, main
from amoc.flow.layout import FlowStore
from amoc.flow.store import build_flow_store
from amoc.train.pretrain_motion import main as pretrain_main


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny synthwalk with its cache, gt store, a split and a briefly pre-trained motion net."""
    root = tmp_path_factory.mktemp("flow_error")
    generate_synthwalk(root / "raw", n_ids=6, min_len=6, max_len=8, seed=4)
    build_cache(read_ilidsvid(root / "raw", dataset="synthwalk"), root / "cache", threads=1)
    build_flow_store(root / "cache", "gt", root / "gt")
    split = root / "split0.json"
    split.write_text(json.dumps({"dataset": "synthwalk", "split": 0, "seed": 0,
                                 "source": "random", "train_pids": [1, 2, 3],
                                 "test_pids": [4, 5, 6]}))
    net = root / "motion.pt"
    assert pretrain_main(["--cache", str(root / "cache"), "--flow-store", str(root / "gt"),
                          "--width", "0.0625", "--colour", "rgb", "--split", str(split),
                          "--out", str(net),
                          "--pretrain-config", json.dumps({"iterations": 3,
                                                           "heldout_tracklets": 1})]) == 0
    return {"cache": root / "cache", "gt": root / "gt", "split": split, "net": net,
            "root": root}


def test_heldout_pairs_are_test_persons_only(world: dict[str, Path]) -> None:
    cache = FrameCache(world["cache"])
    rows = heldout_pairs(cache, [4, 5, 6], max_pairs=1000)
    owner = np.searchsorted(cache.index["offset"].to_numpy(), rows, side="right") - 1
    assert set(cache.index["pid"].to_numpy()[owner]) == {4, 5, 6}
    assert len(heldout_pairs(cache, [4, 5, 6], max_pairs=7)) == 7
    with pytest.raises(ConfigError, match="no test person"):
        heldout_pairs(cache, [99], max_pairs=10)


def test_table_rows_and_zero_flow_reference(world: dict[str, Path]) -> None:
    table = flow_error_table(str(world["cache"]), str(world["gt"]), str(world["split"]),
                             ["dis", "farneback"], {"gt": str(world["net"])}, max_pairs=20)
    assert table["flow"].tolist() == ["zero", "dis", "farneback", "motion net (gt targets)"]
    cache = FrameCache(world["cache"])
    rows = heldout_pairs(cache, [4, 5, 6], 20)
    truth = np.asarray(FlowStore(world["gt"]).flow[rows], np.float32)
    assert table.iloc[0]["epe"] == pytest.approx(np.linalg.norm(truth, axis=-1).mean(), rel=1e-5)
    assert table.iloc[0]["ratio_to_zero"] == 1.0
    assert (table["epe"] > 0).all() and (table["pairs"] == 20).all()
    # different methods give different errors: the table is not a copy of one number
    assert table["epe"].nunique() == len(table)


def test_cli_writes_md_and_csv(world: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "flow_error_synthwalk"
    assert main(["--cache", str(world["cache"]), "--truth", str(world["gt"]),
                 "--split", str(world["split"]), "--methods", "dis",
                 "--motion-net", f"epic={world['net']}", "--max-pairs", "20",
                 "--out", str(out)]) == 0
    csv = pd.read_csv(f"{out}.csv")
    assert csv["flow"].tolist() == ["zero", "dis", "motion net (epic targets)"]
    assert "held-out (test) persons" in Path(f"{out}.md").read_text()


def test_bad_arguments_name_the_problem(world: dict[str, Path], tmp_path: Path) -> None:
    base = ["--cache", str(world["cache"]), "--truth", str(world["gt"]),
            "--split", str(world["split"]), "--out", str(tmp_path / "x")]
    with pytest.raises(ConfigError, match="'nope' is not a registered flow method"):
        main([*base, "--methods", "nope"])
    with pytest.raises(ConfigError, match="TARGET=CHECKPOINT"):
        main([*base, "--methods", "dis", "--motion-net", "justapath.pt"])
