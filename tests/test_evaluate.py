"""The evaluate CLI writes valid result rows; probe/gallery selection per dataset kind."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from test_train_toy import build_toy, tiny_model_config

from amoc.eval.evaluate import main, probe_gallery
from amoc.report.results import CMC_COLUMNS, read_rows
from amoc.train.run import main as train_main
from tests.metric_checks import assert_single_match_rows


@pytest.mark.parametrize("variant", ["amoc_nomotion", "amoc_offline"])
def test_evaluate_cli_writes_valid_rows(tmp_path: Path, variant: str) -> None:
    toy = build_toy(tmp_path)
    model = tmp_path / "m.pt"
    common = ["--cache", str(toy["cache"]), "--split", str(toy["split"]),
              "--flow-store", str(toy["flow"])]
    assert train_main([*common, "--model-config", json.dumps(tiny_model_config(3, variant)),
                       "--train-config", json.dumps({"epochs": 1, "seq_len": 4}),
                       "--out", str(model)]) == 0
    out = tmp_path / "rows.parquet"
    eval_cfg = {"test_lengths": [1, 4, 128], "tta": "flip"}
    assert main(["--model", str(model), *common, "--eval-config", json.dumps(eval_cfg),
                 "--out", str(out), "--dataset", "toy"]) == 0
    rows = read_rows([out])
    assert rows["test_length"].tolist() == [1, 4, 128]
    assert (rows["n_query"] == 3).all() and (rows["n_gallery"] == 3).all()
    assert rows[list(CMC_COLUMNS)].notna().all().all()
    # 3 probes, one true match each: CMC in thirds, mAP what those ranks imply.
    assert_single_match_rows(rows, n_query=3)
    assert (rows["variant"] == variant).all() and (rows["dataset"] == "toy").all()
    assert (rows["train_seconds"] > 0).all() and (rows["eval_seconds"] > 0).all()
    assert rows["config_hash"].nunique() == 1 and (rows["protocol"] == "official").all()


def test_mars_queries_and_galleries_per_protocol() -> None:
    index = pd.DataFrame({
        "pid": [5, 5, 5, -1, 0, 7, 9], "camid": [0, 1, 2, 0, 1, 1, 0],
        "subset": ["test"] * 6 + ["train"], "is_query": [True, False, False, False, False,
                                                         True, False]})
    q, g = probe_gallery(index, [5, 7], "official")
    assert q.index.tolist() == [0, 5] and g.index.tolist() == [0, 1, 2, 3, 4, 5]
    q, g = probe_gallery(index, [5, 7], "torchreid")
    assert q.index.tolist() == [0, 5] and g.index.tolist() == [1, 2, 4]


def test_two_camera_datasets_use_camera_0_probes() -> None:
    index = pd.DataFrame({"pid": [1, 2, 3, 1, 2, 3], "camid": [0, 0, 0, 1, 1, 1],
                          "subset": "all", "is_query": False})
    q, g = probe_gallery(index, [1, 3], "official")
    assert q["pid"].tolist() == [1, 3] and g["pid"].tolist() == [1, 3]
    assert (q["camid"] == 0).all() and (g["camid"] == 1).all()
