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

Instead of sorting every gallery row, each query's good items are sorted (few per query) and each
negative is placed between them by binary search (`torch.searchsorted`); a histogram of those
positions gives the rank of every good item.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from numbers import Integral
from typing import Any, NamedTuple

import numpy as np
import torch

from amoc import metrics_reference

PROTOCOLS = ("official", "torchreid")
_CHUNK_ELEMENTS = 1 << 22  # distances per query chunk (bounds memory to ~100 MB)


class EvalResult(NamedTuple):
    """CMC, mAP and query counts of one evaluation."""

    cmc: np.ndarray  # (max_rank,) float64 fractions
    mAP: float
    n_valid_queries: int  # queries entering both averages
    n_dropped: int  # queries left out (torchreid protocol: no valid match)
    n_no_match: int  # queries without a good gallery item (dropped or counted as misses)


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
    if torch.isnan(dist).any():
        raise ValueError("distmat contains NaN")
    labels = {"q_pids": q_pids, "g_pids": g_pids, "q_camids": q_camids, "g_camids": g_camids}
    out = [dist]
    for name, value in labels.items():
        t = _as_tensor(value, name, 1).to(device=dist.device, dtype=torch.int64)
        n = dist.shape[0] if name.startswith("q_") else dist.shape[1]
        if t.shape[0] != n:
            raise ValueError(f"{name} has length {t.shape[0]}, distmat shape {tuple(dist.shape)}")
        out.append(t)
    return tuple(out)


def _sorted_goods(dist: torch.Tensor, good: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sort each row's good items by (distance, gallery index), padded at the end with +inf.

    Returns:
        good_dist (c, G) and a key (c, G) int64 that increases along each row and compares a good
        item with `first_position_of_its_distance * (n + 1) + gallery_index`.
    """
    c, n = dist.shape
    n_good = good.sum(1)
    rows, cols = good.nonzero(as_tuple=True)  # row-major: gallery index ascending per row
    slot = torch.arange(rows.numel(), device=dist.device) - (n_good.cumsum(0) - n_good)[rows]
    width = int(n_good.max())
    good_dist = dist.new_full((c, width), float("inf"))
    good_dist[rows, slot] = dist[rows, cols]
    good_idx = torch.full((c, width), n, dtype=torch.int64, device=dist.device)
    good_idx[rows, slot] = cols
    good_dist, perm = torch.sort(good_dist, dim=1, stable=True)
    first = torch.searchsorted(good_dist, good_dist, side="left")
    return good_dist, first * (n + 1) + good_idx.gather(1, perm)


def _good_ranks(dist: torch.Tensor, good: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
    """Rank (1-based, junk removed) of each row's k-th good item; (c, G) int64, padded."""
    c, n = dist.shape
    good_dist, key = _sorted_goods(dist, good)
    width = good_dist.shape[1]
    # slot[q, j]: number of good items ranked before gallery item j (exact for negatives)
    slot = torch.searchsorted(good_dist, dist, side="left")  # (c, n)
    bounded = torch.cat([good_dist, good_dist.new_full((c, 1), float("inf"))], dim=1)
    tie = negative & (bounded.gather(1, slot) == dist)  # a good item at the same distance
    if tie.any():  # equal distances: the lower gallery index goes first
        rows, cols = tie.nonzero(as_tuple=True)
        probe = (slot[rows, cols] * (n + 1) + cols).unsqueeze(1)
        slot[rows, cols] = torch.searchsorted(key[rows], probe).squeeze(1)
    slot.masked_fill_(~negative, width)  # non-negatives go to the unused last bin
    counts = torch.zeros(c, width + 1, dtype=torch.int64, device=dist.device)
    counts.scatter_add_(1, slot, torch.ones(1, 1, dtype=torch.int64, device=dist.device).expand(c, n))
    negatives_before = counts.cumsum(1)[:, :width]
    return negatives_before + torch.arange(1, width + 1, device=dist.device)


def _chunk_scores(
    dist: torch.Tensor, q_pids: torch.Tensor, q_camids: torch.Tensor,
    g_pids: torch.Tensor, g_camids: torch.Tensor, protocol: str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Score a chunk of queries: (AP float64 (c,), first-hit rank (c,), has_match bool (c,))."""
    same_pid = g_pids[None, :] == q_pids[:, None]  # (c, n)
    good = same_pid & (g_camids[None, :] != q_camids[:, None])
    negative = ~same_pid  # junk = neither good nor negative (same pid, same camera)
    if protocol == "official":  # pid -1 is junk for every query
        real = (g_pids != -1)[None, :]
        good &= real
        negative &= real
    has_match = good.any(1)
    if not has_match.any():
        zeros = torch.zeros(dist.shape[0], device=dist.device)
        return zeros.double(), zeros.long(), has_match
    ranks = _good_ranks(dist, good, negative).double()
    hit_no = torch.arange(1, ranks.shape[1] + 1, device=dist.device, dtype=torch.float64)
    precision = hit_no / ranks
    if protocol == "official":
        previous = (hit_no - 1) / (ranks - 1).clamp(min=1)
        precision = (precision + torch.where(ranks > 1, previous, 1.0)) / 2
    n_good = good.sum(1)
    valid = hit_no[None, :] <= n_good[:, None]
    ap = (precision * valid).sum(1) / n_good.clamp(min=1)
    return ap, ranks[:, 0].long(), has_match


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
        chunk_size: queries per chunk; default keeps a chunk near 4M distances.

    Returns:
        EvalResult(cmc, mAP, n_valid_queries, n_dropped, n_no_match).

    Raises:
        ValueError: bad shapes, NaN distances, unknown protocol, or no query left to average.
    """
    dist, qp, gp, qc, gc = _validate(distmat, q_pids, g_pids, q_camids, g_camids, max_rank, protocol)
    max_rank, step = int(max_rank), _chunk_rows(dist.shape[1], chunk_size)
    parts = [
        _chunk_scores(dist[s : s + step], qp[s : s + step], qc[s : s + step], gp, gc, protocol)
        for s in range(0, dist.shape[0], step)
    ]
    ap, first, has_match = (torch.cat(p).cpu() for p in zip(*parts, strict=True))
    counted = has_match if protocol == "torchreid" else torch.ones_like(has_match)
    n_valid = int(counted.sum())
    if n_valid == 0:
        raise ValueError(metrics_reference.NO_VALID_QUERY)
    hits = first[has_match].clamp(max=max_rank + 1) - 1  # 0-based rank, max_rank = beyond
    cmc = torch.bincount(hits, minlength=max_rank + 1)[:max_rank].cumsum(0).double() / n_valid
    return EvalResult(
        cmc=cmc.numpy(), mAP=float(ap[counted].sum()) / n_valid, n_valid_queries=n_valid,
        n_dropped=dist.shape[0] - n_valid, n_no_match=int((~has_match).sum()),
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


def benchmark_mars_sized(
    n_query: int = 1980, n_gallery: int = 12180, seed: int = 0, protocol: str = "official",
) -> dict:
    """Time `evaluate` against the per-query NumPy reference on a synthetic MARS-like problem.

    Args:
        n_query: number of queries (MARS: 1980).
        n_gallery: gallery size (MARS official: 12180, torchreid: 9330).
        seed: seed of the synthetic problem (`metrics_reference.synthetic_mars_problem`).
        protocol: one of `PROTOCOLS`.

    Returns:
        dict with n_query, n_gallery, protocol, ours_s (best of 3), reference_s (one run), speedup
        (reference_s / ours_s) and agree (same CMC and mAP to 1e-9).
    """
    problem = metrics_reference.synthetic_mars_problem(n_query, n_gallery, seed)
    ours_s, ours = float("inf"), None
    for _ in range(3):
        start = time.perf_counter()
        ours = evaluate(**problem, protocol=protocol)
        ours_s = min(ours_s, time.perf_counter() - start)
    start = time.perf_counter()
    ref_cmc, ref_map, _, _ = metrics_reference.reference_evaluate(**problem, protocol=protocol)
    reference_s = time.perf_counter() - start
    agree = bool(np.allclose(ours[0], ref_cmc, atol=1e-9) and abs(ours[1] - ref_map) < 1e-9)
    return {
        "n_query": n_query, "n_gallery": n_gallery, "protocol": protocol, "ours_s": ours_s,
        "reference_s": reference_s, "speedup": reference_s / ours_s, "agree": agree,
    }
