"""Exact ranks of each query's good gallery items, without sorting a gallery row.

No gallery row is sorted. Each query's good items are read from the gallery grouped by pid and
sorted (few per query); the rank of a good item is its position among them plus the number of
negatives ranked before it, counted in one of two ways per chunk of queries:
- sparse (a useful ranking): only negatives at or below the query's last good distance can come
  first; a screening pass (one minimum per group of 16 columns, reading each distance once) finds
  them, and each is compared with the query's good items.
- bucketed (any ranking): each row's range of good distances is cut into `BUCKETS` buckets by a
  monotone arithmetic map; a histogram of the buckets counts the negatives below a good item's
  bucket, and the few items sharing a bucket with a good item are compared one by one.
Both are exact. Distances keep their dtype (float32 stays float32), so ties are the ties the
reference's stable argsort sees. NaN distances are rejected by the screening pass.
"""

from __future__ import annotations

import torch

DENSE_ELEMENTS = 1 << 22  # distances per step of the bucketed path (bounds it to ~60 MB)
GROUP_SIZE = 16  # columns per screening group (see `_candidates`)
BUCKETS = 2048  # distance buckets per row in `_negatives_before_bucketed`
SPARSE_LIMIT = 1 / 16  # sparse path while its gathers stay below this fraction of the chunk


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
    """Bucket 0 .. BUCKETS + 2 (int32) of each distance of x (c, k), monotone per row.

    Separate correctly rounded operations (no fused multiply-add), so a distance gets the same
    bucket in any tensor; `base` (c, 1) is finite and `inv` (c, 1) finite and positive, so no
    NaN arises (infinities land in the end buckets).
    """
    return (x - base).mul_(inv).clamp_(0, BUCKETS + 2).to(torch.int32)


def _negatives_before_bucketed(
    dist: torch.Tensor, q_pids: torch.Tensor, g_pids: torch.Tensor, good_dist: torch.Tensor,
    good_idx: torch.Tensor, n_good: torch.Tensor, same_idx: torch.Tensor, protocol: str,
) -> torch.Tensor:
    """Negatives ranked before each good item (c, W), for any ranking, without a sort.

    Each row's range [first, last finite good distance] is cut into `BUCKETS` equal buckets
    (plus one below and two above); one histogram of all items per (row, bucket), less the
    query's own pid and junk, counts the negatives in buckets below a good item's bucket. The
    few items sharing a bucket with a good item are compared with the good items one by one.
    Only the monotonicity of `_bucket` matters for exactness; the bucket widths only for speed.
    """
    c, n = dist.shape
    width, n_bins = good_dist.shape[1], BUCKETS + 3
    info = torch.finfo(dist.dtype)
    valid = torch.arange(width, device=dist.device) < n_good[:, None]
    finite = valid & good_dist.isfinite()
    lo = good_dist.masked_fill(~finite, info.max).amin(1, keepdim=True)
    hi = good_dist.masked_fill(~finite, info.min).amax(1, keepdim=True)
    lo.masked_fill_(~finite.any(1, keepdim=True), 0)
    span = (hi - lo).clamp_(min=4 * BUCKETS / info.max, max=info.max)
    inv = BUCKETS / span  # finite and positive
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

    The first `main` columns form `stride = n // GROUP_SIZE` interleaved groups of
    `GROUP_SIZE` (group g: columns g, g + stride, g + 2 stride, ...); the other columns (the
    tail) are looked at one by one. One minimum per (row, group), a reduction over a strided
    dimension that reads every distance once, rules out most groups in a useful ranking.
    """
    c, n = dist.shape
    stride = n // GROUP_SIZE
    main = stride * GROUP_SIZE
    group_min = dist[:, :main].view(c, GROUP_SIZE, stride).amin(1)  # NaN propagates
    if main and torch.isnan(group_min.amin()):
        raise ValueError("distmat contains NaN")
    _check_nan(dist[:, main:])
    passed = group_min <= last
    if int(torch.count_nonzero(passed)) * GROUP_SIZE > budget:
        return None
    rows, group = passed.nonzero(as_tuple=True)
    members = torch.arange(GROUP_SIZE, device=dist.device) * stride  # offsets in a group
    flat = ((rows * n + group)[:, None] + members).view(-1)  # into the row-major chunk
    flat = flat[(dist.reshape(-1).index_select(0, flat).view(-1, GROUP_SIZE) <= last[rows]).view(-1)]
    tail_rows, tail_cols = (dist[:, main:] <= last).nonzero(as_tuple=True)
    return torch.cat([flat // n, tail_rows]), torch.cat([flat % n, tail_cols + main])


def _good_ranks(
    dist: torch.Tensor, q_pids: torch.Tensor, g_pids: torch.Tensor, good_dist: torch.Tensor,
    good_idx: torch.Tensor, n_good: torch.Tensor, same_idx: torch.Tensor, protocol: str,
) -> torch.Tensor:
    """Rank (1-based, junk removed) of each row's k-th good item; (c, W) int64, padded.

    Only negatives at or below a row's last good distance can precede a good item. When those
    are few (a useful ranking), each is compared with the row's good items directly; otherwise
    `_negatives_before_bucketed` counts them, `DENSE_ELEMENTS` distances at a time.
    """
    c, n = dist.shape
    width = good_dist.shape[1]
    last = good_dist.gather(1, (n_good - 1).clamp(min=0)[:, None])
    last.masked_fill_((n_good == 0)[:, None], float("nan"))  # no candidate in such a row
    budget = SPARSE_LIMIT * c * n
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
        step = max(1, DENSE_ELEMENTS // n)
        negatives_before = torch.cat([
            _negatives_before_bucketed(
                dist[s : s + step], q_pids[s : s + step], g_pids, good_dist[s : s + step],
                good_idx[s : s + step], n_good[s : s + step], same_idx[s : s + step], protocol)
            for s in range(0, c, step)
        ])
    return negatives_before + torch.arange(1, width + 1, device=dist.device)


def chunk_scores(
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
