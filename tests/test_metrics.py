"""Hand-computed cases, input validation and helpers of amoc.eval.metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from amoc.eval import metrics, ranking
from amoc.eval.reference import reference_evaluate, synthetic_mars_problem
from tests.metric_checks import map_from_cmc

# One gallery, three queries. Gallery item: (distance to every query, pid, camid)
#   0: 0.1, pid  1, cam 0     3: 0.4, pid -1, cam 1
#   1: 0.2, pid  2, cam 1     4: 0.5, pid  0, cam 2
#   2: 0.3, pid  1, cam 1     5: 0.6, pid  1, cam 2
GALLERY_DIST = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
G_PIDS = [1, 2, 1, -1, 0, 1]
G_CAMS = [0, 1, 1, 1, 2, 2]
Q_PIDS = [1, 2, 3]
Q_CAMS = [0, 0, 1]
DIST = np.tile(GALLERY_DIST, (3, 1))


def _run(protocol: str, max_rank: int = 4, **kw) -> metrics.EvalResult:
    return metrics.evaluate_detailed(DIST, Q_PIDS, G_PIDS, Q_CAMS, G_CAMS, max_rank, protocol, **kw)


def test_official_hand_computed() -> None:
    # q0 (pid 1, cam 0): junk = {0 (same cam), 3 (pid -1)}; ranked list 1-, 2+, 4-, 5+.
    #   hit 1 at r=2: (p_prev 0/1 + p 1/2)/2 = 1/4; hit 2 at r=4: (1/3 + 2/4)/2 = 5/12.
    #   AP = (1/4 + 5/12)/2 = 1/3; first hit rank 2.
    # q1 (pid 2, cam 0): junk = {3}; list 0-, 1+, ... -> AP = (0/1 + 1/2)/2 = 1/4; first hit 2.
    # q2 (pid 3): no good item -> counted as a miss with AP 0.
    result = _run("official")
    np.testing.assert_allclose(result.cmc, [0, 2 / 3, 2 / 3, 2 / 3], rtol=0, atol=1e-15)
    assert result.mAP == pytest.approx((1 / 3 + 1 / 4 + 0) / 3, abs=1e-15)
    assert (result.n_valid_queries, result.n_dropped, result.n_no_match) == (3, 0, 1)


def test_torchreid_hand_computed() -> None:
    # q0: junk = {0}; pid -1 is a negative; list 1-, 2+, 3-, 4-, 5+ -> AP = (1/2 + 2/5)/2 = 0.45.
    # q1: no junk; list 0-, 1+, ... -> AP = 1/2. q2: no match -> dropped.
    result = _run("torchreid")
    np.testing.assert_allclose(result.cmc, [0, 1, 1, 1], rtol=0, atol=1e-15)
    assert result.mAP == pytest.approx((0.45 + 0.5) / 2, abs=1e-15)
    assert (result.n_valid_queries, result.n_dropped, result.n_no_match) == (2, 1, 1)


@pytest.mark.parametrize(("g_pids", "expected"), [([2, 1], (0.25, 0.5)), ([1, 2], (1.0, 1.0))])
def test_ties_go_to_lower_gallery_index(g_pids: list[int], expected: tuple[float, float]) -> None:
    # Both items at distance 1: the lower index ranks first. Good item second: official
    # AP = (0/1 + 1/2)/2 = 0.25, torchreid AP = 1/2; good item first: AP = 1 for both.
    for protocol, ap in zip(metrics.PROTOCOLS, expected, strict=True):
        _, m_ap = metrics.evaluate([[1.0, 1.0]], [1], g_pids, [0], [1, 1], 2, protocol)
        assert m_ap == pytest.approx(ap, abs=1e-15)


def test_cmc_holds_past_short_gallery() -> None:
    cmc, _ = metrics.evaluate([[0.3, 0.1]], [1], [1, 2], [0], [1, 1], max_rank=5)
    np.testing.assert_array_equal(cmc, [0, 1, 1, 1, 1])


def test_evaluate_accepts_torch_and_matches_detailed() -> None:
    cmc, m_ap = metrics.evaluate(
        torch.tensor(DIST, dtype=torch.float32), torch.tensor(Q_PIDS), torch.tensor(G_PIDS),
        torch.tensor(Q_CAMS), torch.tensor(G_CAMS), max_rank=4,
    )
    detailed = _run("official")
    np.testing.assert_allclose(cmc, detailed.cmc)
    assert m_ap == pytest.approx(detailed.mAP)


def test_chunking_does_not_change_results() -> None:
    for protocol in metrics.PROTOCOLS:
        whole, split = _run(protocol), _run(protocol, chunk_size=1)
        np.testing.assert_array_equal(whole.cmc, split.cmc)
        assert whole.mAP == split.mAP


def test_all_queries_dropped_raises() -> None:
    with pytest.raises(ValueError, match="no query has a valid match"):
        metrics.evaluate([[0.1]], [5], [1], [0], [1], protocol="torchreid")


@pytest.mark.parametrize(
    ("bad", "name"),
    [("q_pids", "q_pids"), ("g_pids", "g_pids"), ("q_camids", "q_camids"),
     ("g_camids", "g_camids")],
)
def test_mismatched_label_length_names_argument(bad: str, name: str) -> None:
    args = {"q_pids": Q_PIDS, "g_pids": G_PIDS, "q_camids": Q_CAMS, "g_camids": G_CAMS}
    args[bad] = list(args[bad]) + [0]
    with pytest.raises(ValueError, match=name):
        metrics.evaluate(DIST, **args)


def test_bad_distmat_and_options() -> None:
    with pytest.raises(ValueError, match="distmat"):
        metrics.evaluate(GALLERY_DIST, Q_PIDS, G_PIDS, Q_CAMS, G_CAMS)
    with pytest.raises(ValueError, match="NaN"):
        metrics.evaluate(np.full((3, 6), np.nan), Q_PIDS, G_PIDS, Q_CAMS, G_CAMS)
    with pytest.raises(ValueError, match="max_rank"):
        metrics.evaluate(DIST, Q_PIDS, G_PIDS, Q_CAMS, G_CAMS, max_rank=0)
    with pytest.raises(ValueError, match="official, torchreid"):
        metrics.evaluate(DIST, Q_PIDS, G_PIDS, Q_CAMS, G_CAMS, protocol="market")


@pytest.mark.parametrize("col", [0, 31, 33, 5])  # first group, last one, tail, short gallery
@pytest.mark.parametrize("q_pids", [[1, 1], [7, 7]])  # with and without a match in the chunk
def test_nan_anywhere_is_rejected(col: int, q_pids: list[int]) -> None:
    n = 35 if col > 5 else 6  # 35 columns: two screening groups of 16 and a tail of 3
    dist = np.ones((2, n))
    dist[1, col] = np.nan
    g_pids, g_cams = np.arange(n) % 3, np.ones(n, dtype=int)
    with pytest.raises(ValueError, match="NaN"):
        metrics.evaluate(dist, q_pids, g_pids, [0, 0], g_cams, protocol="torchreid")


def test_infinite_distances_rank_last_with_index_ties() -> None:
    dist = [[np.inf, 0.5, np.inf, np.inf]]
    args = ([1], [1, 2, 2, 1], [0], [1, 1, 1, 1])
    for protocol in metrics.PROTOCOLS:
        ours = metrics.evaluate_detailed(dist, *args, max_rank=4, protocol=protocol)
        ref = reference_evaluate(dist, *args, max_rank=4, protocol=protocol)
        np.testing.assert_array_equal(ours.cmc, ref[0])
        assert ours.mAP == pytest.approx(ref[1], abs=1e-15)


def test_euclidean_distmat_matches_direct_difference() -> None:
    gen = torch.Generator().manual_seed(0)
    qf, gf = torch.randn(7, 16, generator=gen), torch.randn(9, 16, generator=gen)
    dist = metrics.euclidean_distmat(qf, gf)
    direct = (qf.double()[:, None] - gf.double()[None]).norm(dim=2)
    torch.testing.assert_close(dist.double(), direct, rtol=1e-5, atol=1e-5)
    same = metrics.euclidean_distmat(qf * 1e3, qf * 1e3)
    assert not torch.isnan(same).any() and (same >= 0).all()
    with pytest.raises(ValueError, match="equal dim"):
        metrics.euclidean_distmat(qf, gf[:, :8])


def test_mean_distmat() -> None:
    a, b = torch.zeros(2, 3), torch.full((2, 3), 4.0)
    torch.testing.assert_close(metrics.mean_distmat([a, b]), torch.full((2, 3), 2.0))
    with pytest.raises(ValueError, match="different shapes"):
        metrics.mean_distmat([a, torch.zeros(3, 2)])
    with pytest.raises(ValueError, match="empty"):
        metrics.mean_distmat([])


@pytest.mark.parametrize("sparse_limit", [0.0, 1.0])  # 0: bucketed path only
@pytest.mark.parametrize("protocol", metrics.PROTOCOLS)
@pytest.mark.parametrize("ties", [True, False])
def test_medium_problem_matches_reference(
    protocol: str, sparse_limit: float, ties: bool, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ranking, "SPARSE_LIMIT", sparse_limit)
    problem = synthetic_mars_problem(n_query=60, n_gallery=500, seed=3)
    if ties:
        problem["distmat"] = np.round(problem["distmat"] / 4)  # a handful of distinct values
    else:  # a poor ranking with extreme and infinite distances
        rng = np.random.default_rng(4)
        problem["distmat"] = problem["distmat"] + 3 * rng.normal(size=problem["distmat"].shape)
        problem["distmat"][rng.random(problem["distmat"].shape) < 0.01] = np.inf
        problem["distmat"][rng.random(problem["distmat"].shape) < 0.01] = -np.inf
        problem["distmat"][0, :5] = [1e308, -1e308, 5e-324, 0.0, -0.0]
    ours = metrics.evaluate_detailed(**problem, max_rank=50, protocol=protocol, chunk_size=7)
    ref = reference_evaluate(**problem, max_rank=50, protocol=protocol)
    np.testing.assert_allclose(ours.cmc, ref[0], rtol=0, atol=1e-12)
    assert ours.mAP == pytest.approx(ref[1], rel=0, abs=1e-12)
    assert (ours.n_valid_queries, ours.n_dropped) == ref[2:]


def test_chunk_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        _run("official", chunk_size=0)


@pytest.mark.parametrize("protocol", ["official", "torchreid"])
@pytest.mark.parametrize("seed", range(4))
def test_single_match_map_follows_from_the_cmc(protocol: str, seed: int) -> None:
    """The test helper `map_from_cmc` (used on CLI result rows) agrees with both evaluators."""
    rng = np.random.default_rng(seed)
    n = 7
    dist = rng.random((n, n))
    pids = np.arange(n)
    args = (dist, pids, pids, np.zeros(n, int), np.ones(n, int))
    cmc, mean_ap = metrics.evaluate(*args, max_rank=20, protocol=protocol)
    assert mean_ap == pytest.approx(map_from_cmc(cmc, protocol), abs=1e-12)
    ref_cmc, ref_map, _, _ = reference_evaluate(*args, protocol=protocol)
    assert ref_map == pytest.approx(map_from_cmc(ref_cmc, protocol), abs=1e-12)


def test_default_cmc_has_twenty_ranks() -> None:
    cmc, _ = metrics.evaluate(np.array([[0.1, 0.2]]), np.array([1]), np.array([2, 1]),
                              np.array([0]), np.array([1, 1]))
    assert len(cmc) == 20 and cmc.tolist() == [0.0] + [1.0] * 19
