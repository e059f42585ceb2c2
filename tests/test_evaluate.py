"""The evaluate CLI writes valid result rows; probe/gallery selection per dataset kind."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from test_train_toy import build_toy, tiny_model_config

from amoc.eval import evaluate as evaluate_module
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


@pytest.fixture(scope="module")
def trained_toy(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("evaltoy")
    toy = build_toy(root, lengths=(10, 16))
    model = root / "m.pt"
    common = ["--cache", str(toy["cache"]), "--split", str(toy["split"]),
              "--flow-store", str(toy["flow"])]
    assert train_main([*common, "--model-config",
                       json.dumps(tiny_model_config(3, "amoc_offline")),
                       "--train-config", json.dumps({"epochs": 1, "seq_len": 4}),
                       "--out", str(model)]) == 0
    return {"root": root, "common": common, "model": model}


def _evaluate_spying(toy: dict, eval_cfg: dict, monkeypatch: pytest.MonkeyPatch, name: str):
    """Run the evaluate CLI; return its rows and each extract_features call's (n, take, A)."""
    calls = []
    real = evaluate_module.extract_features

    def spy(model, sequences, flows, **kw):
        feats = real(model, sequences, flows, **kw)
        calls.append({"n": len(sequences), "lengths": [len(s) for s in sequences],
                      "take": kw["take"], "tta": kw["tta"], "n_aug": feats.shape[1]})
        return feats

    monkeypatch.setattr(evaluate_module, "extract_features", spy)
    out = toy["root"] / f"{name}.parquet"
    assert main(["--model", str(toy["model"]), *toy["common"], "--eval-config",
                 json.dumps(eval_cfg), "--out", str(out), "--dataset", "toy"]) == 0
    return read_rows([out]), calls


def test_crops8_flip_goes_through_evaluate(trained_toy: dict,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    rows, calls = _evaluate_spying(trained_toy, {"test_lengths": [8], "tta": "crops8_flip"},
                                   monkeypatch, "crops")
    assert [(c["tta"], c["n_aug"]) for c in calls] == [("crops8_flip", 16)] * 2
    flip_rows, _ = _evaluate_spying(trained_toy, {"test_lengths": [8], "tta": "flip"},
                                    monkeypatch, "flip")
    assert_single_match_rows(rows, n_query=3)
    assert rows["config_hash"].item() != flip_rows["config_hash"].item()  # the TTA is recorded


@pytest.mark.parametrize(("probe", "gallery"), [("first", "last"), ("last", "first"),
                                                ("last", "last")])
def test_probe_and_gallery_frames_choose_each_side_s_window(
        trained_toy: dict, monkeypatch: pytest.MonkeyPatch, probe: str, gallery: str) -> None:
    cfg = {"test_lengths": [4], "tta": "none", "probe_frames": probe, "gallery_frames": gallery}
    _, calls = _evaluate_spying(trained_toy, cfg, monkeypatch, f"{probe}_{gallery}")
    assert [c["take"] for c in calls] == [probe, gallery]  # probes first, then the gallery
    assert all(c["n"] == 3 and min(c["lengths"]) >= 10 for c in calls)  # longer than L = 4


def test_default_windows_are_first_for_probes_and_last_for_the_gallery(
        trained_toy: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    _, calls = _evaluate_spying(trained_toy, {"test_lengths": [4], "tta": "none"}, monkeypatch,
                                "defaults")
    assert [c["take"] for c in calls] == ["first", "last"]
