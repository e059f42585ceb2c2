"""Straightforward per-query NumPy re-id evaluation: the test oracle for `amoc.eval.metrics`.

Written in the shape of torchreid's `eval_market1501`, the usual baseline: one stable argsort of
the whole distance matrix, the match matrix of the ranked gallery, then a Python loop over queries
that removes each query's junk with boolean masks, takes the CMC from a cumulative sum and the AP
from the precision at the hits. It is the baseline of the speed benchmark and the cross-check of
the vectorized implementation. The AP of the official protocol is the literal trapezoid sum of
compute_AP.m over the whole ranked list (recall steps times mean of successive precisions),
independent of the closed form in `amoc.eval.metrics`. Semantics (junk, ties, queries without a
match) are documented in `amoc.eval.metrics`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from amoc.eval.metrics import NO_VALID_QUERY


def _ap_precision_at_hits(hits: np.ndarray) -> float:
    """torchreid AP: mean of precision@k over the ranks k that hold a hit."""
    precision = np.cumsum(hits) / np.arange(1, hits.size + 1)
    return float(precision[hits].sum() / hits.sum())


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
    """Evaluate one query at a time (see `amoc.eval.metrics.evaluate_detailed` for the semantics).

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
    n_query = dist.shape[0]
    indices = np.argsort(dist, axis=1, kind="stable")  # ties: lower gallery index first
    matches = g_pids[indices] == q_pids[:, None]  # (n_query, n_gallery) same pid, ranked
    all_cmc, all_ap = [], []
    for q in range(n_query):
        order = indices[q]
        remove = (g_pids[order] == q_pids[q]) & (g_camids[order] == q_camids[q])
        if protocol == "official":
            remove |= g_pids[order] == -1  # pid -1 is junk for every query
        hits = matches[q][~remove]  # ranked list with junk removed; True = correct match
        if not hits.any():
            if protocol == "official":  # counted as a miss with AP 0
                all_cmc.append(np.zeros(max_rank))
                all_ap.append(0.0)
            continue
        cmc = np.minimum(np.cumsum(hits), 1)[:max_rank]
        all_cmc.append(np.pad(cmc, (0, max_rank - cmc.size), constant_values=1))
        all_ap.append(_ap_trapezoid(hits) if protocol == "official" else _ap_precision_at_hits(hits))
    n_valid = len(all_ap)
    if n_valid == 0:
        raise ValueError(NO_VALID_QUERY)
    cmc_curve = np.asarray(all_cmc, dtype=np.float64).sum(0) / n_valid
    return cmc_curve, float(np.sum(all_ap)) / n_valid, n_valid, n_query - n_valid


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
