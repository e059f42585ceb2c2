"""Claims table: paired per-query rank-1 differences, intervals and verdicts from the numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from amoc.errors import ConfigError
from amoc.eval.metrics import evaluate_detailed
from amoc.report.claims import (
    claims_table,
    load_claims,
    main,
    mcnemar_p,
    render,
    table1_half_width,
    training_interval,
    verdict,
)
from amoc.report.results import LengthMetrics, make_rows, write_rows

PIDS = list(range(1, 61))


def _rows(variant: str, hits: dict, experiment: str = "table1", length: int = 128,
          config: str | None = None) -> pd.DataFrame:
    """Result rows of one variant, one per training: ``hits`` maps a split, or a (split, seed),
    to its probes' hit@1; first_match is 1 where hit else 3."""
    frames = []
    for key, hit in hits.items():
        split, seed = key if isinstance(key, tuple) else (key, 0)
        first = np.where(hit, 1, 3).tolist()
        cmc = [float(np.mean(hit))] * 2 + [1.0] * 18
        metrics = LengthMetrics(cmc=cmc, mAP=0.5, n_query=len(first), n_gallery=len(first),
                                eval_seconds=0.0, query_pids=PIDS[:len(first)],
                                first_match=first)
        frames.append(make_rows(experiment=experiment, dataset="synthwalk", variant=variant,
                                split=split, protocol="official", seed=seed,
                                config_hash=config or f"{variant}-{split}-{seed}",
                                code_version="c", device="cpu", train_seconds=0.0,
                                per_length={length: metrics}))
    return pd.concat(frames, ignore_index=True)


def _claim(better: str, worse: str | list[str], **extra: object) -> dict:
    return {"claim": f"{better} > {worse}", "experiment": "table1", "better": better,
            "worse": worse, **extra}


def _trainings(n: int, p: float, seed: int) -> dict[tuple[int, int], np.ndarray]:
    rng = np.random.default_rng(seed)
    return {(k % 5, k // 5): rng.random(60) < p for k in range(n)}


def test_interval_and_verdict_follow_the_numbers() -> None:
    mean, low, high = training_interval(np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0]))
    assert mean == pytest.approx(4 / 6)
    assert low < mean < high
    assert verdict(0.5, 3.0, 10) == "holds"
    assert verdict(-3.0, -0.5, 10) == "refuted"
    assert verdict(-1.0, 2.0, 10) == "inconclusive"
    assert verdict(1.0, 2.0, 4) == "too few trainings"
    assert verdict(1.0, 2.0, 2, min_trainings=2) == "holds"


def test_better_side_winning_holds_and_losing_refutes() -> None:
    strong, weak = _trainings(6, 0.8, 0), _trainings(6, 0.2, 1)
    rows = pd.concat([_rows("a", strong), _rows("b", weak)], ignore_index=True)
    table = claims_table(rows, [_claim("a", "b"), _claim("b", "a")], {})
    assert table["verdict"].tolist() == ["holds", "refuted"]
    first = table.iloc[0]
    diffs = [100.0 * (strong[k].mean() - weak[k].mean()) for k in sorted(strong)]
    assert first["diff_pp"] == pytest.approx(np.mean(diffs))
    assert first["n_query_trials"] == 360 and first["n_trainings"] == 6
    assert first["ci_low"] > 0 > table.iloc[1]["ci_high"]


def test_trainings_that_disagree_do_not_resolve_a_claim_the_queries_would() -> None:
    """Planted: 6 trainings, a wins by 10 points in four and loses by 10 in two. Pooled over
    360 query-trials the query-level interval excludes 0; over trainings it does not."""
    better, worse = {}, {}
    for k, gain in enumerate([10, 10, 10, 10, -10, -10]):
        base = np.zeros(60, bool)
        base[:30] = True
        more = base.copy()
        more[30:36] = True  # +6 hits of 60 = +10 points
        better[(k, 0)], worse[(k, 0)] = (more, base) if gain > 0 else (base, more)
    rows = pd.concat([_rows("a", better), _rows("b", worse)], ignore_index=True)
    row = claims_table(rows, [_claim("a", "b")], {}).iloc[0]
    d = np.array([10, 10, 10, 10, -10, -10], float)
    half = stats.t.ppf(0.975, 5) * d.std(ddof=1) / np.sqrt(6)
    assert row["diff_pp"] == pytest.approx(d.mean())
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((d.mean() - half, d.mean() + half))
    assert row["verdict"] == "inconclusive"
    q = 100.0 * (np.concatenate([better[k] for k in sorted(better)]).astype(float)
                 - np.concatenate([worse[k] for k in sorted(worse)]).astype(float))
    q_half = stats.t.ppf(0.975, len(q) - 1) * q.std(ddof=1) / np.sqrt(len(q))
    assert q.mean() - q_half > 0  # what the query-level interval would have called "holds"


def test_small_discordance_has_the_exact_mcnemar_p() -> None:
    a = np.zeros(100, bool)
    a[:4] = True  # 4 of 4 discordant queries favour a
    assert mcnemar_p(a, np.zeros(100, bool)) == pytest.approx(0.125)
    assert mcnemar_p(a, a) == 1.0


def test_two_trainings_give_no_verdict_and_say_so() -> None:
    rows = pd.concat([_rows("a", _trainings(2, 0.9, 2)), _rows("b", _trainings(2, 0.1, 3))],
                     ignore_index=True)
    table = claims_table(rows, [_claim("a", "b")], {})
    assert table.iloc[0]["verdict"] == "too few trainings"
    assert "resolves none of them" in render(table, None)


def test_identical_functions_are_never_compared_and_missing_ones_not_run() -> None:
    hits = _trainings(5, 0.5, 1)
    rows = pd.concat([_rows("a", hits, config="same"), _rows("a2", hits, config="same"),
                      _rows("b", _trainings(5, 0.2, 4))], ignore_index=True)
    table = claims_table(rows, [_claim("a", ["a2", "b"]), _claim("a", "a2"),
                                _claim("a", "zzz")], {})
    assert table["worse"].tolist()[0] == "b"
    assert "a2 (same trained models)" in table.iloc[0]["skipped"]
    assert table["verdict"].tolist()[1:] == ["not run", "not run"]


def test_list_alternative_takes_its_best_member_and_the_first_of_ties() -> None:
    rows = pd.concat([_rows("a", _trainings(5, 0.6, 5)), _rows("b", _trainings(5, 0.1, 6)),
                      _rows("c", _trainings(5, 0.9, 7))], ignore_index=True)
    row = claims_table(rows, [_claim("a", ["b", "c"])], {}).iloc[0]
    assert row["worse"] == "c" and row["verdict"] == "refuted"
    tie = _trainings(5, 0.3, 8)
    rows = pd.concat([_rows("a", _trainings(5, 0.6, 5)), _rows("d", tie), _rows("e", tie)],
                     ignore_index=True)
    assert claims_table(rows, [_claim("a", ["e", "d"])], {}).iloc[0]["worse"] == "e"


def test_twin_queries_keep_probes_whose_twin_is_in_the_same_splits_gallery() -> None:
    """59 and 60 are twins, tested together in split 0 only (split 1 tests 100 instead of 60):
    59 counts in split 0 and not in split 1."""
    hit_a = np.zeros(60, bool)
    hit_a[:10] = True  # a wins on pids 1..10 only
    rows = pd.concat([_rows("a", {0: hit_a, 1: hit_a}),
                      _rows("b", {0: np.zeros(60, bool), 1: np.zeros(60, bool)})],
                     ignore_index=True)
    split1 = rows["split"] == 1
    rows.loc[split1, "query_pids"] = pd.Series([PIDS[:-1] + [100]] * split1.sum(),
                                               index=rows.index[split1])
    twins = {p: p + 1 if p % 2 else p - 1 for p in range(1, 11)} | {59: 60, 60: 59}
    row = claims_table(rows, [_claim("a", "b", queries="twins")], {"synthwalk": twins}).iloc[0]
    assert row["n_query_trials"] == 12 + 10  # split 0: 1..10, 59, 60; split 1: 1..10
    assert row["diff_pp"] == pytest.approx((100.0 * 10 / 12 + 100.0) / 2)


def test_lengths_compare_one_model_at_two_test_lengths() -> None:
    rows = pd.concat([_rows("a", _trainings(5, 0.9, 9), "fig6a", 128, config="x"),
                      _rows("a", _trainings(5, 0.1, 10), "fig6a", 1, config="x")],
                     ignore_index=True)
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
    paths = []
    for i, name in enumerate(("amoc_e2e_epic", "amoc_nomotion", "baseline_epic")):
        path = tmp_path / f"{name}.parquet"
        write_rows(_rows(name, _trainings(3, 0.5, 20 + i)), path)
        paths.append(str(path))
    manifest = tmp_path / "synthwalk.json"
    manifest.write_text(json.dumps({"twin_pairs": [[1, 2], [3, 4]]}))
    assert main(["--rows", *paths, "--twins", f"synthwalk={manifest}",
                 "--out", str(tmp_path / "claims")]) == 0
    text = (tmp_path / "claims.md").read_text()
    assert "95% half-width from the trainings' spread" in text and "median ±" in text
    table = pd.read_csv(tmp_path / "claims.csv")
    assert set(table["verdict"]) <= {"too few trainings", "not run"}
    assert set(table.loc[table["verdict"] != "not run", "n_trainings"]) == {3}
    rows = pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)

    def rank1(variant: str) -> np.ndarray:
        part = rows[rows["variant"] == variant].sort_values(["split", "seed"])
        return np.array([100.0 * np.mean(np.asarray(f) == 1) for f in part["first_match"]])

    halves = []
    for x, y in (("amoc_e2e_epic", "amoc_nomotion"), ("amoc_e2e_epic", "baseline_epic"),
                 ("amoc_nomotion", "baseline_epic")):
        d = rank1(x) - rank1(y)
        halves.append(stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d)))
    assert table1_half_width(rows) == pytest.approx(float(np.median(halves)))


def test_rows_without_per_query_ranks_are_refused() -> None:
    rows = _rows("a", {0: np.ones(60, bool)}).drop(columns=["query_pids", "first_match"])
    rows = pd.concat([rows, _rows("b", {0: np.zeros(60, bool)})], ignore_index=True)
    with pytest.raises(ConfigError, match="table1/a have no per-query ranks"):
        claims_table(rows, [_claim("a", "b")], {})
