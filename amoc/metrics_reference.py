"""Straightforward per-query NumPy re-id evaluation: the test oracle for `amoc.metrics`.

Deliberately simple and slow (a Python loop over queries, one stable argsort each); it is the
baseline of the speed benchmark and the cross-check of the vectorized implementation. The AP of
the official protocol is written as the literal trapezoid sum over the whole ranked list (recall
steps times mean of successive precisions), independently of the closed form used in
`amoc.metrics`. Semantics (junk, ties, queries without a match) are documented in `amoc.metrics`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

NO_VALID_QUERY = "no query has a valid match in the gallery"


def _query_hits(
    dist_row: np.ndarray, q_pid: int, q_camid: int, g_pids: np.ndarray, g_camids: np.ndarray,
    protocol: str,
) -> np.ndarray:
    """Return the hit indicator (bool) of the ranked gallery with junk removed, for one query."""
    order = np.argsort(dist_row, kind="stable")  # ties: lower gallery index first
    pids, camids = g_pids[order], g_camids[order]
    same_pid = pids == q_pid
    junk = same_pid & (camids == q_camid)
    if protocol == "official":
        junk |= pids == -1
    return (same_pid & ~junk)[~junk]


def _ap_torchreid(hits: np.ndarray) -> float:
    """Mean of precision@k over the ranks k that hold a hit."""
    precision = np.cumsum(hits) / np.arange(1, hits.size + 1)
    return float((precision * hits).sum() / hits.sum())


def _ap_trapezoid(hits: np.ndarray) -> float:
    """MARS compute_AP.m: sum of recall steps times the mean of successive precisions."""
    n_hit = np.cumsum(hits)
    recall = np.concatenate([[0.0], n_hit / hits.sum()])
    precision = np.concatenate([[1.0], n_hit / np.arange(1, hits.size + 1)])
    return float((np.diff(recall) * (precision[:-1] + precision[1:]) / 2).sum())


def reference_evaluate(
    distmat: Any, q_pids: Any, g_pids: Any, q_camids: Any, g_camids: Any,
    max_rank: int = 20, protocol: str = "official",
) -> tuple[np.ndarray, float, int, int]:
    """Evaluate one query at a time (see `amoc.metrics.evaluate_detailed` for the semantics).

    Args:
        distmat: (n_query, n_gallery) distances, NumPy-convertible.
        q_pids, g_pids, q_camids, g_camids: 1-D identity and camera labels.
        max_rank: length of the returned CMC curve.
        protocol: "official" (MARS MATLAB) or "torchreid" (market1501-style).

    Returns:
        (cmc, mAP, n_valid_queries, n_dropped).

    Raises:
        ValueError: when every query is dropped (torchreid protocol).
    """
    dist = np.asarray(distmat)
    q_pids, g_pids = np.asarray(q_pids), np.asarray(g_pids)
    q_camids, g_camids = np.asarray(q_camids), np.asarray(g_camids)
    cmc_sum, ap_sum, n_valid = np.zeros(max_rank), 0.0, 0
    for i in range(dist.shape[0]):
        hits = _query_hits(dist[i], q_pids[i], q_camids[i], g_pids, g_camids, protocol)
        if not hits.any():
            n_valid += protocol == "official"  # official: counted as a miss with AP 0
            continue
        first = int(np.argmax(hits))  # 0-based rank of the first hit
        cmc_sum[first:] += 1
        ap_sum += _ap_trapezoid(hits) if protocol == "official" else _ap_torchreid(hits)
        n_valid += 1
    if n_valid == 0:
        raise ValueError(NO_VALID_QUERY)
    return cmc_sum / n_valid, ap_sum / n_valid, n_valid, dist.shape[0] - n_valid


def synthetic_mars_problem(n_query: int, n_gallery: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Make a MARS-shaped evaluation problem: ~19 tracklets per id, 6 cameras, junk, distractors.

    Features are identity centres plus noise (128-D), so rankings are informative but imperfect.

    Args:
        n_query: number of query tracklets.
        n_gallery: number of gallery tracklets.
        seed: NumPy random seed.

    Returns:
        dict with float32 `distmat` (n_query, n_gallery) and int64 `q_pids`, `g_pids`,
        `q_camids`, `g_camids`; gallery pids include -1 (junk, ~5%) and 0 (distractor, ~10%).
    """
    rng = np.random.default_rng(seed)
    n_ids = max(1, n_gallery // 19)
    g_pids = rng.integers(1, n_ids + 1, n_gallery)
    g_pids[rng.random(n_gallery) < 0.05] = -1
    g_pids[rng.random(n_gallery) < 0.10] = 0
    real = g_pids[g_pids > 0]
    q_pids = rng.choice(real, n_query) if real.size else np.full(n_query, 1)
    centres = rng.normal(size=(n_ids + 2, 128)).astype(np.float32)
    q_feat = centres[q_pids + 1] + rng.normal(size=(n_query, 128)).astype(np.float32)
    g_feat = centres[g_pids + 1] + rng.normal(size=(n_gallery, 128)).astype(np.float32)
    sq = (q_feat**2).sum(1)[:, None] + (g_feat**2).sum(1)[None, :] - 2 * q_feat @ g_feat.T
    return {
        "distmat": np.sqrt(np.maximum(sq, 0)).astype(np.float32),
        "q_pids": q_pids.astype(np.int64), "g_pids": g_pids.astype(np.int64),
        "q_camids": rng.integers(0, 6, n_query), "g_camids": rng.integers(0, 6, n_gallery),
    }
