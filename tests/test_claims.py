"""Claims table: paired per-query rank-1 differences, intervals and verdicts from the numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from amoc.errors import ConfigError
from amoc.eval.metrics import evaluate_detailed
from amoc.report.claims import (
    claims_table,
    load_claims,
    main,
    paired_interval,
    table1_half_width,
    verdict,
)
from amoc.report.results import LengthMetrics, make_rows, write_rows

PIDS = list(range(1, 61))


def _rows(variant: str, hits: dict[int, np.ndarray], experiment: str = "table1",
          length: int = 128) -> pd.DataFrame:
    """Result rows of one variant: per split, first_match 1 where hit else 3."""
    frames = []
    for split, hit in hits.items():
        first = np.where(hit, 1, 3).tolist()
        cmc = [float(np.mean(hit))] * 2 + [1.0] * 18
        metrics = LengthMetrics(cmc=cmc, mAP=0.5, n_query=len(first), n_gallery=len(first),
                                eval_seconds=0.0, query_pids=PIDS[:len(first)],
                                first_match=first)
        frames.append(make_rows(experiment=experiment, dataset="synthwalk", variant=variant,
                                split=split, protocol="official", seed=0, config_hash="h",
                                code_version="c", device="cpu", train_seconds=0.0,
                                per_length={length: metrics}))
    return pd.concat(frames, ignore_index=True)


def _claim(better: str, worse: str | list[str], **extra: object) -> dict:
    return {"claim": f"{better} > {worse}", "experiment": "table1", "better": better,
            "worse": worse, **extra}


def test_interval_and_verdict_follow_the_numbers() -> None:
    mean, low, high = paired_interval(np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0]))
    assert mean == pytest.approx(4 / 6)
    assert low < mean < high
    assert verdict(0.5, 3.0, 100) == "holds"
    assert verdict(-3.0, -0.5, 100) == "refuted"
    assert verdict(-1.0, 2.0, 100) == "inconclusive"
    assert verdict(1.0, 2.0, 3) == "inconclusive"  # too few queries


def test_better_side_winning_holds_and_losing_refutes() -> None:
    rng = np.random.default_rng(0)
    strong = {s: rng.random(60) < 0.8 for s in (0, 1)}
    weak = {s: rng.random(60) < 0.2 for s in (0, 1)}
    rows = pd.concat([_rows("a", strong), _rows("b", weak)], ignore_index=True)
    table = claims_table(rows, [_claim("a", "b"), _claim("b", "a")], {})
    assert table["verdict"].tolist() == ["holds", "refuted"]
    first = table.iloc[0]
    diff = 100.0 * (np.concatenate(list(strong.values())).astype(float)
                    - np.concatenate(list(weak.values())).astype(float))
    assert first["diff_pp"] == pytest.approx(diff.mean())
    assert first["n_queries"] == 120 and first["n_splits"] == 2
    assert first["ci_low"] > 0 > table.iloc[1]["ci_high"]


def test_identical_models_are_inconclusive_and_missing_ones_not_run() -> None:
    hits = {0: np.random.default_rng(1).random(60) < 0.5}
    rows = pd.concat([_rows("a", hits), _rows("b", hits)], ignore_index=True)
    table = claims_table(rows, [_claim("a", "b"), _claim("a", "zzz")], {})
    assert table["verdict"].tolist() == ["inconclusive", "not run"]


def test_list_alternative_takes_its_best_member() -> None:
    rng = np.random.default_rng(2)
    rows = pd.concat([_rows("a", {0: rng.random(60) < 0.6}), _rows("b", {0: rng.random(60) < 0.1}),
                      _rows("c", {0: rng.random(60) < 0.9})], ignore_index=True)
    row = claims_table(rows, [_claim("a", ["b", "c"])], {}).iloc[0]
    assert row["worse"] == "c" and row["verdict"] == "refuted"


def test_twin_queries_keep_only_probes_whose_twin_is_tested() -> None:
    hit_a = np.zeros(60, bool)
    hit_a[:10] = True  # a wins on pids 1..10 only
    rows = pd.concat([_rows("a", {0: hit_a}), _rows("b", {0: np.zeros(60, bool)})],
                     ignore_index=True)
    twins = {p: p + 1 if p % 2 else p - 1 for p in range(1, 11)} | {100: 61, 61: 100}
    row = claims_table(rows, [_claim("a", "b", queries="twins")], {"synthwalk": twins}).iloc[0]
    assert row["n_queries"] == 10  # pid 61's twin is not among the tested persons
    assert row["diff_pp"] == pytest.approx(100.0)


def test_lengths_compare_one_model_at_two_test_lengths() -> None:
    rng = np.random.default_rng(3)
    rows = pd.concat([_rows("a", {0: rng.random(60) < 0.9}, "fig6a", 128),
                      _rows("a", {0: rng.random(60) < 0.1}, "fig6a", 1)], ignore_index=True)
    claim = {"claim": "grows", "experiment": "fig6a", "better": "a", "worse": "a",
             "lengths": ["longest", "shortest"]}
    row = claims_table(rows, [claim], {}).iloc[0]
    assert row["verdict"] == "holds" and "@ shortest" in row["worse"]


def test_rank1_from_first_match_equals_cmc() -> None:
    """The per-query ranks stored with the rows agree with the CMC they come from."""
    rng = np.random.default_rng(4)
    dist = rng.random((30, 30))
    pids = np.arange(30)
    result = evaluate_detailed(dist, pids, pids, np.zeros(30), np.ones(30))
    assert np.mean(result.first_match == 1) == pytest.approx(result.cmc[0])
    assert np.mean((result.first_match >= 1) & (result.first_match <= 5)) == pytest.approx(
        result.cmc[4])


def test_paper_claims_file_is_complete() -> None:
    claims = load_claims()
    assert len(claims) >= 10
    assert {c["experiment"] for c in claims} >= {"table1", "table2", "fig6a", "fig6b", "fig6c"}


def test_cli_writes_table_and_power(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    paths = []
    for name in ("amoc_e2e_epic", "amoc_nomotion", "baseline_epic"):
        path = tmp_path / f"{name}.parquet"
        write_rows(_rows(name, {0: rng.random(60) < 0.5}), path)
        paths.append(str(path))
    manifest = tmp_path / "synthwalk.json"
    manifest.write_text(json.dumps({"twin_pairs": [[1, 2], [3, 4]]}))
    assert main(["--rows", *paths, "--twins", f"synthwalk={manifest}",
                 "--out", str(tmp_path / "claims")]) == 0
    text = (tmp_path / "claims.md").read_text()
    assert "95% CI half-width" in text and "median ±" in text
    table = pd.read_csv(tmp_path / "claims.csv")
    assert set(table["verdict"]) <= {"holds", "refuted", "inconclusive", "not run"}
    rows = pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)
    assert table1_half_width(rows) == pytest.approx(
        float(np.median([(h - lo) / 2 for _, lo, h in [
            paired_interval(100.0 * (np.asarray(a) == 1).astype(float)
                            - 100.0 * (np.asarray(b) == 1).astype(float))
            for a, b in [(rows.first_match[i], rows.first_match[j])
                         for i, j in ((0, 1), (0, 2), (1, 2))]]])))


def test_rows_without_per_query_ranks_are_refused() -> None:
    rows = _rows("a", {0: np.ones(60, bool)}).drop(columns=["query_pids", "first_match"])
    rows = pd.concat([rows, _rows("b", {0: np.zeros(60, bool)})], ignore_index=True)
    with pytest.raises(ConfigError, match="table1/a have no per-query ranks"):
        claims_table(rows, [_claim("a", "b")], {})
