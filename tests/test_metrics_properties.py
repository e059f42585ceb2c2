"""Property tests of amoc.eval.metrics: exact agreement with the per-query reference, invariances."""

from __future__ import annotations

import math
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amoc.eval import metrics, ranking
from amoc.eval.reference import reference_evaluate

PROTOCOL = st.sampled_from(metrics.PROTOCOLS)


@st.composite
def problems(draw: st.DrawFn, distinct: bool = False) -> dict:
    """Small problems with junk (-1), distractors (0), same-camera matches, ties, no-match queries."""
    n_q, n_g = draw(st.integers(1, 6)), draw(st.integers(1, 14))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if distinct:  # a random permutation per row: no ties inside a row
        dist = np.argsort(rng.random((n_q, n_g)), axis=1).astype(np.float64)
    else:  # few integer values: many ties
        dist = rng.integers(0, 4, (n_q, n_g)).astype(np.float32)
    return {
        "distmat": dist,
        "q_pids": rng.integers(-1, 4, n_q), "g_pids": rng.integers(-1, 4, n_g),
        "q_camids": rng.integers(0, 3, n_q), "g_camids": rng.integers(0, 3, n_g),
    }


def assert_same_evaluation(problem: dict, other: dict, protocol: str) -> None:
    """Both problems give the same CMC, mAP and query counts (or the same error message)."""
    a, _ = _both(problem, protocol, 5)
    b, _ = _both(other, protocol, 5)
    if isinstance(a, str):
        assert a == b
        return
    np.testing.assert_allclose(a.cmc, b.cmc, rtol=0, atol=1e-12)
    assert a.mAP == pytest.approx(b.mAP, rel=0, abs=1e-12)
    assert (a.n_valid_queries, a.n_dropped) == (b.n_valid_queries, b.n_dropped)


def _both(problem: dict, protocol: str, max_rank: int, chunk_size: int | None = None):
    """Run ours and the reference; an error is compared as its message."""
    try:
        ours = metrics.evaluate_detailed(**problem, max_rank=max_rank, protocol=protocol,
                                         chunk_size=chunk_size)
    except ValueError as err:
        ours = str(err)
    try:
        ref = reference_evaluate(**problem, max_rank=max_rank, protocol=protocol)
    except ValueError as err:
        ref = str(err)
    return ours, ref


@settings(max_examples=400, deadline=None)
@given(problems(), PROTOCOL, st.integers(1, 16), st.integers(1, 7), st.integers(1, 5),
       st.sampled_from([0.0, 1.0, math.inf]), st.sampled_from([1, 2, 3, 2048]))
def test_matches_reference_exactly(
    problem: dict, protocol: str, max_rank: int, chunk: int, group_size: int, sparse_limit: float,
    buckets: int,
) -> None:
    # group_size: columns per screening group (the default 16 would leave these small galleries
    # entirely in the unscreened tail); sparse_limit 0 forces the bucketed path, run a few
    # distances at a time (DENSE_ELEMENTS), with few buckets (many items share a good's bucket).
    with mock.patch.multiple(ranking, GROUP_SIZE=group_size, SPARSE_LIMIT=sparse_limit,
                             DENSE_ELEMENTS=20, BUCKETS=buckets):
        ours, ref = _both(problem, protocol, max_rank, chunk)
    if isinstance(ours, str) or isinstance(ref, str):
        assert ours == ref
        return
    np.testing.assert_allclose(ours.cmc, ref[0], rtol=0, atol=1e-12)
    assert ours.mAP == pytest.approx(ref[1], rel=0, abs=1e-12)
    assert (ours.n_valid_queries, ours.n_dropped) == ref[2:]


@settings(max_examples=100, deadline=None)
@given(problems(), PROTOCOL)
def test_cmc_monotone_and_complete(problem: dict, protocol: str) -> None:
    n_g = problem["distmat"].shape[1]
    ours, _ = _both(problem, protocol, max_rank=n_g)
    if isinstance(ours, str):
        return
    assert np.all(np.diff(ours.cmc) >= 0) and 0 <= ours.cmc[0] and ours.cmc[-1] <= 1
    if ours.n_no_match == 0 or protocol == "torchreid":  # every counted query has a match
        assert ours.cmc[-1] == 1.0


@settings(max_examples=100, deadline=None)
@given(problems(distinct=True), PROTOCOL, st.randoms(use_true_random=False))
def test_gallery_permutation_invariance(problem: dict, protocol: str, rnd) -> None:
    perm = np.array(rnd.sample(range(problem["distmat"].shape[1]), problem["distmat"].shape[1]))
    permuted = dict(problem, distmat=problem["distmat"][:, perm],
                    g_pids=problem["g_pids"][perm], g_camids=problem["g_camids"][perm])
    assert_same_evaluation(problem, permuted, protocol)


def _all_matches_first(problem: dict, protocol: str) -> bool:
    """True iff, for every counted query, each true match ranks before each false one."""
    for i, row in enumerate(problem["distmat"]):
        order = np.argsort(row, kind="stable")
        pids, cams = problem["g_pids"][order], problem["g_camids"][order]
        same = pids == problem["q_pids"][i]
        junk = same & (cams == problem["q_camids"][i])
        if protocol == "official":
            junk |= pids == -1
        hits = (same & ~junk)[~junk]
        if not hits.any() and protocol == "torchreid":
            continue  # dropped query
        if not hits.any() or hits[hits.sum():].any():
            return False
    return True


@settings(max_examples=200, deadline=None)
@given(problems(), PROTOCOL, st.booleans())
def test_map_bounds_and_perfect_iff(problem: dict, protocol: str, make_perfect: bool) -> None:
    if make_perfect:  # put every same-pid item first: true matches then lead the ranking
        same = problem["g_pids"][None, :] == problem["q_pids"][:, None]
        problem = dict(problem, distmat=np.where(same, 0.0, 1.0) + problem["distmat"] / 10)
    ours, _ = _both(problem, protocol, 3)
    if isinstance(ours, str):
        return
    assert 0.0 <= ours.mAP <= 1.0
    assert (ours.mAP == 1.0) == _all_matches_first(problem, protocol)


@settings(max_examples=100, deadline=None)
@given(problems(), st.integers(1, 5), st.randoms(use_true_random=False))
def test_official_junk_never_counts(problem: dict, n_junk: int, rnd) -> None:
    n_q, n_g = problem["distmat"].shape
    where = sorted(rnd.randint(0, n_g) for _ in range(n_junk))
    junk_dist = np.array([[rnd.randint(0, 3) for _ in range(n_junk)] for _ in range(n_q)])
    cams = [rnd.randint(0, 2) for _ in range(n_junk)]
    extended = dict(
        problem, distmat=np.insert(problem["distmat"], where, junk_dist, axis=1),
        g_pids=np.insert(problem["g_pids"], where, -1),
        g_camids=np.insert(problem["g_camids"], where, cams),
    )
    a, _ = _both(problem, "official", 6)
    b, _ = _both(extended, "official", 6)
    np.testing.assert_array_equal(a.cmc, b.cmc)
    assert a.mAP == pytest.approx(b.mAP, rel=0, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(problems(), PROTOCOL, st.integers(1, 5), st.randoms(use_true_random=False))
def test_same_camera_matches_never_count(problem: dict, protocol: str, n_junk: int, rnd) -> None:
    problem = dict(problem, distmat=problem["distmat"][:1], q_pids=problem["q_pids"][:1],
                   q_camids=problem["q_camids"][:1])  # junk of this kind is per query
    n_g = problem["distmat"].shape[1]
    where = sorted(rnd.randint(0, n_g) for _ in range(n_junk))
    extended = dict(
        problem,
        distmat=np.insert(problem["distmat"], where, [rnd.randint(0, 3) for _ in where], axis=1),
        g_pids=np.insert(problem["g_pids"], where, problem["q_pids"][0]),
        g_camids=np.insert(problem["g_camids"], where, problem["q_camids"][0]),
    )
    a, _ = _both(problem, protocol, 6)
    b, _ = _both(extended, protocol, 6)
    if isinstance(a, str):
        assert a == b
        return
    np.testing.assert_array_equal(a.cmc, b.cmc)
    assert a.mAP == pytest.approx(b.mAP, rel=0, abs=1e-12)
