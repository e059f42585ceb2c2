"""Checks on result rows that follow from the metrics' definitions, not from our code.

With exactly one true match per query in a gallery of at most 20 (one sequence per person and
camera, as on iLIDS-VID/PRID/synthwalk test sets of a few persons), the CMC curve fixes the rank of
every query's match, and so its AP: torchreid's AP is 1/r; MARS compute_AP.m's trapezoid gives 1
at r = 1 and (0 + 1/r) / 2 = 1/(2r) beyond. mAP must equal the CMC-weighted mean of those.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

CMC = [f"cmc_{k}" for k in range(1, 21)]


def single_match_ap(rank: np.ndarray, protocol: str) -> np.ndarray:
    """AP of a query whose only true match sits at 1-based `rank`."""
    rank = np.asarray(rank, dtype=float)
    if protocol == "torchreid":
        return 1.0 / rank
    return np.where(rank == 1, 1.0, 0.5 / rank)


def map_from_cmc(cmc: np.ndarray, protocol: str) -> float:
    """mAP implied by a 20-rank CMC curve when every query has one true match (see module)."""
    share = np.diff(np.concatenate([[0.0], np.asarray(cmc, dtype=float)]))  # queries at rank r
    return float((share * single_match_ap(np.arange(1, 21), protocol)).sum())


def assert_single_match_rows(rows: pd.DataFrame, n_query: int,
                             protocol: str | None = None) -> None:
    """Every row: CMC in steps of 1/n_query, non-decreasing, and mAP agreeing with it
    (`protocol` for rows without a protocol column)."""
    for row in rows.itertuples():
        cmc = np.array([getattr(row, c) for c in CMC])
        counts = cmc * n_query
        np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)
        assert (np.diff(cmc) >= 0).all() and cmc[0] >= 0 and cmc[-1] <= 1
        assert row.mAP == pytest.approx(map_from_cmc(cmc, protocol or row.protocol), rel=1e-6, abs=1e-9)
