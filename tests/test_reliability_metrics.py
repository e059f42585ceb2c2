"""Evaluation properties missing from test_metrics_properties.py: the query order and any
strictly increasing transform of the distances do not change CMC or mAP."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_metrics_properties import PROTOCOL, _both, assert_same_evaluation, problems


@settings(max_examples=100, deadline=None)
@given(problems(), PROTOCOL, st.randoms(use_true_random=False))
def test_query_permutation_invariance(problem: dict, protocol: str, rnd) -> None:
    n_q = problem["distmat"].shape[0]
    perm = np.array(rnd.sample(range(n_q), n_q))
    permuted = dict(problem, distmat=problem["distmat"][perm], q_pids=problem["q_pids"][perm],
                    q_camids=problem["q_camids"][perm])
    assert_same_evaluation(problem, permuted, protocol)


@settings(max_examples=100, deadline=None)
@given(problems(), PROTOCOL, st.floats(0.1, 10.0), st.floats(-5.0, 5.0))
def test_increasing_transform_of_distances_changes_nothing(problem: dict, protocol: str,
                                                           scale: float, shift: float) -> None:
    dist = problem["distmat"].astype(np.float64)
    transformed = dict(problem, distmat=scale * np.exp(dist) + shift)  # ties stay ties
    a, _ = _both(problem, protocol, 6)
    b, _ = _both(transformed, protocol, 6)
    if isinstance(a, str):
        assert a == b
        return
    np.testing.assert_array_equal(a.cmc, b.cmc)
    assert a.mAP == b.mAP
