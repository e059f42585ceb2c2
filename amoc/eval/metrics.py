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

No gallery row is sorted. Each query's good items are read from the gallery grouped by pid and
sorted (few per query); the rank of a good item is its position among them plus the number of
negatives ranked before it, counted in one of two ways per chunk of queries:
- sparse (a useful ranking): only negatives at or below the query's last good distance can come
  first; a screening pass (one minimum per group of 16 columns, reading each distance once) finds
  them, and each is compared with the query's good items.
- bucketed (any ranking): each row's range of good distances is cut into `_BUCKETS` buckets by a
  monotone arithmetic map; a histogram of the buckets counts the negatives below a good item's
  bucket, and the few items sharing a bucket with a good item are compared one by one.
Both are exact. Distances keep their dtype (float32 stays float32), so ties are the ties the
reference's stable argsort sees. NaN distances are rejected by the screening pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from typing import Any, NamedTuple

import numpy as np
import torch

PROTOCOLS = ("official", "torchreid")
NO_VALID_QUERY = "no query has a valid match in the gallery"
_CHUNK_ELEMENTS = 1 << 24  # distances per query chunk (screening memory: ~1/16 of the chunk)
_DENSE_ELEMENTS = 1 << 22  # distances per step of the bucketed path (bounds it to ~60 MB)
_GROUP_SIZE = 16  # columns per screening group (see `_candidates`)
_BUCKETS = 2048  # distance buckets per row in `_negatives_before_bucketed`
_SPARSE_LIMIT = 1 / 16  # sparse path while its gathers stay below this fraction of the chunk


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


def _sorted_goods(
    dist: torch.Tensor, q_pids: torch.Tensor, q_camids: torch.Tensor, g_camids: torch.Tensor,
    groups: tuple[torch.Tensor, torch.Tensor], protocol: str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each query's good items in ranking order, read from the gallery grouped by pid.

    `groups` is (sorted g_pids, gallery indices in that order) from a stable sort of g_pids.

    Returns:
        good_dist (c, W) and good_idx (c, W) int64, sorted by (distance, gallery index) and padded
        at the end with (+inf, n_gallery); n_good (c,) int64; same_idx (c, S) int64, the
        gallery items of the query's pid (good or junk), padded with n_gallery.
    """
    n = dist.shape[1]
    sorted_pids, order = groups
    lo = torch.searchsorted(sorted_pids, q_pids, side="left")
    n_same = torch.searchsorted(sorted_pids, q_pids, side="right") - lo
    pos = lo[:, None] + torch.arange(max(int(n_same.max()), 1), device=dist.device)
    same = pos < (lo + n_same)[:, None]
    same_idx = order[pos.clamp(max=n - 1)].masked_fill_(~same, n)  # ascending index
    good = same & (g_camids[same_idx.clamp(max=n - 1)] != q_camids[:, None])
    if protocol == "official":  # pid -1 is junk, never a match
        good &= (q_pids != -1)[:, None]
    idx, _ = torch.sort(same_idx.masked_fill(~good, n), dim=1)  # goods first, ascending index
    good_dist = dist.gather(1, idx.clamp(max=n - 1)).masked_fill_(idx == n, float("inf"))
    good_dist, perm = torch.sort(good_dist, dim=1, stable=True)
    n_good = good.sum(1)
    width = max(int(n_good.max()), 1)
    return good_dist[:, :width].contiguous(), idx.gather(1, perm)[:, :width], n_good, same_idx


def _bucket(x: torch.Tensor, base: torch.Tensor, inv: torch.Tensor) -> torch.Tensor:
    """Bucket 0 .. _BUCKETS + 2 (int32) of each distance of x (c, k), monotone per row.

    Separate correctly rounded operations (no fused multiply-add), so a distance gets the same
    bucket in any tensor; `base` (c, 1) is finite and `inv` (c, 1) finite and positive, so no
    NaN arises (infinities land in the end buckets).
    """
    return (x - base).mul_(inv).clamp_(0, _BUCKETS + 2).to(torch.int32)


def _negatives_before_bucketed(
    dist: torch.Tensor, q_pids: torch.Tensor, g_pids: torch.Tensor, good_dist: torch.Tensor,
    good_idx: torch.Tensor, n_good: torch.Tensor, same_idx: torch.Tensor, protocol: str,
) -> torch.Tensor:
    """Negatives ranked before each good item (c, W), for any ranking, without a sort.

    Each row's range [first, last finite good distance] is cut into `_BUCKETS` equal buckets
    (plus one below and two above); one histogram of all items per (row, bucket), less the
    query's own pid and junk, counts the negatives in buckets below a good item's bucket. The
    few items sharing a bucket with a good item are compared with the good items one by one.
    Only the monotonicity of `_bucket` matters for exactness; the bucket widths only for speed.
    """
    c, n = dist.shape
    width, n_bins = good_dist.shape[1], _BUCKETS + 3
    info = torch.finfo(dist.dtype)
    valid = torch.arange(width, device=dist.device) < n_good[:, None]
    finite = valid & good_dist.isfinite()
    lo = good_dist.masked_fill(~finite, info.max).amin(1, keepdim=True)
    hi = good_dist.masked_fill(~finite, info.min).amax(1, keepdim=True)
    lo.masked_fill_(~finite.any(1, keepdim=True), 0)
    span = (hi - lo).clamp_(min=4 * _BUCKETS / info.max, max=info.max)
    inv = _BUCKETS / span  # finite and positive
    base = (lo - 1.5 / inv).clamp_(min=info.min)  # the first good item lands in bucket 1
    offset = torch.arange(0, c * n_bins, n_bins, device=dist.device, dtype=torch.int32)[:, None]
    flat = _bucket(dist, base, inv).add_(offset)  # (row, bucket) of every item
    hist = torch.bincount(flat.view(-1), minlength=c * n_bins)
    good_flat = (_bucket(good_dist, base, inv) + offset).long()
    shared = torch.zeros(c * n_bins, dtype=torch.bool, device=dist.device)
    shared[good_flat[valid]] = True  # buckets holding a good item
    pos = shared.index_select(0, flat.view(-1)).nonzero().squeeze(1)
    rows, cols = pos // n, pos % n
    g = g_pids[cols]
    keep = g != q_pids[rows]
    if protocol == "official":
        keep &= g != -1
    rows, cols, pos = rows[keep], cols[keep], pos[keep]
    slot = _goods_before(dist.view(-1)[pos], cols, good_dist[rows], good_idx[rows])
    close = torch.bincount(rows * (width + 1) + slot, minlength=c * (width + 1))
    # leave out of the histogram: the negatives just counted, the query's pid, pid -1 (official)
    same = same_idx < n
    removed = [flat.view(-1)[pos]]
    if protocol == "official":
        same &= (q_pids != -1)[:, None]  # a pid -1 query: its pid's items are removed below
        removed.append(flat[:, (g_pids == -1).nonzero().squeeze(1)].reshape(-1))
    removed.append((_bucket(dist.gather(1, same_idx.clamp(max=n - 1)), base, inv) + offset)[same])
    removed = torch.cat(removed).long()
    hist.index_add_(0, removed, torch.full_like(removed, -1))
    # what is left of a bucket holding a good item is empty: cumulate through the good's bucket
    below = hist.view(c, n_bins).cumsum(1).gather(1, good_flat - offset)
    return below + close.view(c, width + 1).cumsum(1)[:, :width]


def _goods_before(
    value: torch.Tensor, cols: torch.Tensor, good_dist: torch.Tensor, good_idx: torch.Tensor,
) -> torch.Tensor:
    """Number of good items (rows of good_dist/good_idx) ranked before item (value, cols)."""
    value, cols = value[:, None], cols[:, None]
    return ((good_dist < value) | ((good_dist == value) & (good_idx < cols))).sum(1)


def _check_nan(values: torch.Tensor) -> None:
    if torch.isnan(values).any():
        raise ValueError("distmat contains NaN")


def _candidates(
    dist: torch.Tensor, last: torch.Tensor, budget: float,
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(rows, cols) of the items at or below their row's `last` distance, or None when more
    than `budget` distances are left after the screening; raises on NaN distances.

    The first `main` columns form `stride = n // _GROUP_SIZE` interleaved groups of
    `_GROUP_SIZE` (group g: columns g, g + stride, g + 2 stride, ...); the other columns (the
    tail) are looked at one by one. One minimum per (row, group), a reduction over a strided
    dimension that reads every distance once, rules out most groups in a useful ranking.
    """
    c, n = dist.shape
    stride = n // _GROUP_SIZE
    main = stride * _GROUP_SIZE
    group_min = dist[:, :main].view(c, _GROUP_SIZE, stride).amin(1)  # NaN propagates
    if main and torch.isnan(group_min.amin()):
        raise ValueError("distmat contains NaN")
    _check_nan(dist[:, main:])
    passed = group_min <= last
    if int(torch.count_nonzero(passed)) * _GROUP_SIZE > budget:
        return None
    rows, group = passed.nonzero(as_tuple=True)
    members = torch.arange(_GROUP_SIZE, device=dist.device) * stride  # offsets in a group
    flat = ((rows * n + group)[:, None] + members).view(-1)  # into the row-major chunk
    flat = flat[(dist.reshape(-1).index_select(0, flat).view(-1, _GROUP_SIZE) <= last[rows]).view(-1)]
    tail_rows, tail_cols = (dist[:, main:] <= last).nonzero(as_tuple=True)
    return torch.cat([flat // n, tail_rows]), torch.cat([flat % n, tail_cols + main])


def _good_ranks(
    dist: torch.Tensor, q_pids: torch.Tensor, g_pids: torch.Tensor, good_dist: torch.Tensor,
    good_idx: torch.Tensor, n_good: torch.Tensor, same_idx: torch.Tensor, protocol: str,
) -> torch.Tensor:
    """Rank (1-based, junk removed) of each row's k-th good item; (c, W) int64, padded.

    Only negatives at or below a row's last good distance can precede a good item. When those
    are few (a useful ranking), each is compared with the row's good items directly; otherwise
    `_negatives_before_bucketed` counts them, `_DENSE_ELEMENTS` distances at a time.
    """
    c, n = dist.shape
    width = good_dist.shape[1]
    last = good_dist.gather(1, (n_good - 1).clamp(min=0)[:, None])
    last.masked_fill_((n_good == 0)[:, None], float("nan"))  # no candidate in such a row
    budget = _SPARSE_LIMIT * c * n
    found = _candidates(dist, last, budget)
    if found is not None and found[0].numel() * width <= budget:
        rows, cols = found
        g = g_pids[cols]
        keep = g != q_pids[rows]
        if protocol == "official":
            keep &= g != -1
        rows, cols = rows[keep], cols[keep]
        slot = _goods_before(dist[rows, cols], cols, good_dist[rows], good_idx[rows])
        counts = torch.bincount(rows * (width + 1) + slot, minlength=c * (width + 1))
        negatives_before = counts.view(c, width + 1).cumsum(1)[:, :width]
    else:
        step = max(1, _DENSE_ELEMENTS // n)
        negatives_before = torch.cat([
            _negatives_before_bucketed(
                dist[s : s + step], q_pids[s : s + step], g_pids, good_dist[s : s + step],
                good_idx[s : s + step], n_good[s : s + step], same_idx[s : s + step], protocol)
            for s in range(0, c, step)
        ])
    return negatives_before + torch.arange(1, width + 1, device=dist.device)


def _chunk_scores(
    dist: torch.Tensor, q_pids: torch.Tensor, q_camids: torch.Tensor,
    g_pids: torch.Tensor, g_camids: torch.Tensor, groups: tuple[torch.Tensor, torch.Tensor],
    protocol: str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Score a chunk of queries: (AP float64 (c,), first-hit rank (c,), has_match bool (c,))."""
    good_dist, good_idx, n_good, same_idx = _sorted_goods(
        dist, q_pids, q_camids, g_camids, groups, protocol)
    has_match = n_good > 0
    if not has_match.any():
        _check_nan(dist)
        zeros = torch.zeros(dist.shape[0], device=dist.device)
        return zeros.double(), zeros.long(), has_match
    ranks = _good_ranks(
        dist, q_pids, g_pids, good_dist, good_idx, n_good, same_idx, protocol).double()
    hit_no = torch.arange(1, ranks.shape[1] + 1, device=dist.device, dtype=torch.float64)
    precision = hit_no / ranks
    if protocol == "official":
        previous = (hit_no - 1) / (ranks - 1).clamp(min=1)
        precision = (precision + torch.where(ranks > 1, previous, 1.0)) / 2
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
        _chunk_scores(dist[s : s + step], qp[s : s + step], qc[s : s + step], gp, gc, groups,
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
