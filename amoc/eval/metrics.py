"""Re-id evaluation (CMC and mAP) for two protocols, vectorized with torch over query chunks.

Protocols (`protocol=`):
- "official": the MARS MATLAB evaluation (evaluation_mars.m + compute_AP.m). For each query, junk
  = gallery items with pid -1 and items with the query's pid seen by the query's camera; good =
  same pid, other camera (a pid -1 query therefore has no good item); pid 0 distractors are
  ordinary negatives. Junk is removed from the ranking. AP is the trapezoid rule of compute_AP.m:
  for the i-th good item at rank r (1-based, junk removed), AP += (1/n_good) * (p_prev + i/r)/2,
  with p_prev = (i-1)/(r-1), or 1 when r = 1. A query without any good item is kept and counted
  as a miss (AP 0, never a CMC hit), as in the MATLAB code; `n_no_match` reports how many.
- "torchreid": torchreid's `evaluate_rank` (market1501 branch). Junk = same pid and same camera
  (pid -1 is an ordinary label); AP = mean of precision@r over the ranks r of the hits. Queries
  without a valid match are dropped from both averages (`n_dropped`).

Shared rules: the ranking is by ascending distance, ties broken by lower gallery index (a stable
sort; torchreid's quicksort leaves ties unspecified). `cmc[k-1]` is the fraction of counted
queries whose first hit is within the top k, for every k up to `max_rank`, even past the end of
a short gallery (torchreid instead shrinks `max_rank` to the gallery size).

The ranks themselves come from `amoc.eval.ranking` (exact, no gallery row is sorted).
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from typing import Any, NamedTuple

import numpy as np
import torch

from amoc.eval.ranking import chunk_scores

PROTOCOLS = ("official", "torchreid")
NO_VALID_QUERY = "no query has a valid match in the gallery"
_CHUNK_ELEMENTS = 1 << 24  # distances per query chunk (screening memory: ~1/16 of the chunk)


class EvalResult(NamedTuple):
    """CMC, mAP and query counts of one evaluation."""

    cmc: np.ndarray  # (max_rank,) float64 fractions
    mAP: float
    n_valid_queries: int  # queries entering both averages
    n_dropped: int  # queries left out (torchreid protocol: no valid match)
    n_no_match: int  # queries without a good gallery item (dropped or counted as misses)
    first_match: np.ndarray  # (n_query,) int64: rank (1-based) of the first good match, 0 = none


def _as_tensor(x: Any, name: str, ndim: int) -> torch.Tensor:
    """Convert array-like `x` to a tensor with `ndim` dimensions or raise ValueError naming it."""
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    if t.dim() != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {tuple(t.shape)}")
    return t


def _validate(
    distmat: Any, q_pids: Any, g_pids: Any, q_camids: Any, g_camids: Any,
    max_rank: int, protocol: str,
) -> tuple[torch.Tensor, ...]:
    """Check shapes, values and options; return (distmat, q_pids, g_pids, q_camids, g_camids)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; valid protocols: {', '.join(PROTOCOLS)}")
    if isinstance(max_rank, bool) or not isinstance(max_rank, Integral) or max_rank < 1:
        raise ValueError(f"max_rank must be a positive int, got {max_rank!r}")
    dist = _as_tensor(distmat, "distmat", 2)
    if dist.shape[0] == 0 or dist.shape[1] == 0:
        raise ValueError(f"distmat must be non-empty, got shape {tuple(dist.shape)}")
    dist = dist.float() if dist.dtype in (torch.float16, torch.bfloat16) else dist
    dist = (dist if dist.is_floating_point() else dist.double()).contiguous()
    labels = {"q_pids": q_pids, "g_pids": g_pids, "q_camids": q_camids, "g_camids": g_camids}
    out = [dist]
    for name, value in labels.items():
        t = _as_tensor(value, name, 1).to(device=dist.device, dtype=torch.int64)
        n = dist.shape[0] if name.startswith("q_") else dist.shape[1]
        if t.shape[0] != n:
            raise ValueError(f"{name} has length {t.shape[0]}, distmat shape {tuple(dist.shape)}")
        out.append(t)
    return tuple(out)


def _chunk_rows(n_gallery: int, chunk_size: int | None) -> int:
    """Queries per chunk: `chunk_size`, or enough to hold about `_CHUNK_ELEMENTS` distances."""
    if chunk_size is None:
        return max(1, _CHUNK_ELEMENTS // n_gallery)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    return chunk_size


def evaluate_detailed(
    distmat: Any, q_pids: Any, g_pids: Any, q_camids: Any, g_camids: Any,
    max_rank: int = 20, protocol: str = "official", chunk_size: int | None = None,
) -> EvalResult:
    """Compute CMC and mAP with query counts (protocol semantics in the module docstring).

    Args:
        distmat: (n_query, n_gallery) distances (numpy array or torch tensor, any device).
        q_pids, g_pids: (n_query,), (n_gallery,) integer identities (-1 junk, 0 distractor).
        q_camids, g_camids: (n_query,), (n_gallery,) integer camera ids.
        max_rank: length of the CMC curve.
        protocol: one of `PROTOCOLS`.
        chunk_size: queries per chunk; default keeps a chunk near 16M distances.

    Returns:
        EvalResult(cmc, mAP, n_valid_queries, n_dropped, n_no_match).

    Raises:
        ValueError: bad shapes, NaN distances, unknown protocol, or no query left to average.
    """
    dist, qp, gp, qc, gc = _validate(distmat, q_pids, g_pids, q_camids, g_camids, max_rank, protocol)
    max_rank, step = int(max_rank), _chunk_rows(dist.shape[1], chunk_size)
    groups = torch.sort(gp, stable=True)  # gallery grouped by pid, ascending index inside
    parts = [
        chunk_scores(dist[s : s + step], qp[s : s + step], qc[s : s + step], gp, gc, groups,
                      protocol)
        for s in range(0, dist.shape[0], step)
    ]
    ap, first, has_match = (torch.cat(p).cpu() for p in zip(*parts, strict=True))
    counted = has_match if protocol == "torchreid" else torch.ones_like(has_match)
    n_valid = int(counted.sum())
    if n_valid == 0:
        raise ValueError(NO_VALID_QUERY)
    hits = first[has_match].clamp(max=max_rank + 1) - 1  # 0-based rank, max_rank = beyond
    cmc = torch.bincount(hits, minlength=max_rank + 1)[:max_rank].cumsum(0).double() / n_valid
    return EvalResult(
        cmc=cmc.numpy(), mAP=float(ap[counted].sum()) / n_valid, n_valid_queries=n_valid,
        n_dropped=dist.shape[0] - n_valid, n_no_match=int((~has_match).sum()),
        first_match=torch.where(has_match, first, 0).numpy(),
    )


def evaluate(
    distmat: Any, q_pids: Any, g_pids: Any, q_camids: Any, g_camids: Any,
    max_rank: int = 20, protocol: str = "official",
) -> tuple[np.ndarray, float]:
    """Return (cmc, mAP); see `evaluate_detailed` for the arguments and the query counts."""
    result = evaluate_detailed(distmat, q_pids, g_pids, q_camids, g_camids, max_rank, protocol)
    return result.cmc, result.mAP


def euclidean_distmat(qf: torch.Tensor, gf: torch.Tensor) -> torch.Tensor:
    """Euclidean (not squared) distances between query and gallery features.

    Args:
        qf: (n_query, dim) features.
        gf: (n_gallery, dim) features.

    Returns:
        (n_query, n_gallery) distances; squared norms are clamped at 0 before the square root,
        so rounding never yields NaN. Half precision inputs are computed in float32.
    """
    qf, gf = torch.as_tensor(qf), torch.as_tensor(gf)
    if qf.dim() != 2 or gf.dim() != 2 or qf.shape[1] != gf.shape[1]:
        raise ValueError(f"qf and gf must be (n, dim) with equal dim, got {tuple(qf.shape)}, "
                         f"{tuple(gf.shape)}")
    dtype = torch.promote_types(torch.promote_types(qf.dtype, gf.dtype), torch.float32)
    qf, gf = qf.to(dtype), gf.to(dtype)
    sq = (qf * qf).sum(1, keepdim=True) + (gf * gf).sum(1)[None, :]
    return sq.addmm_(qf, gf.T, alpha=-2).clamp_(min=0).sqrt_()


def mean_distmat(distmats: Sequence[torch.Tensor]) -> torch.Tensor:
    """Average distance matrices over test-time augmentations (rank-equivalent to summing).

    Args:
        distmats: non-empty sequence of equally shaped (n_query, n_gallery) tensors.

    Returns:
        (n_query, n_gallery) element-wise mean.
    """
    if not distmats:
        raise ValueError("distmats is empty")
    shapes = {tuple(d.shape) for d in distmats}
    if len(shapes) != 1:
        raise ValueError(f"distmats have different shapes: {sorted(shapes)}")
    return torch.stack(list(distmats)).mean(0)
