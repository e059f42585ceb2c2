"""Flow methods: accuracy on known motion, the registry, and the interpolator guard."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from amoc.errors import ConfigError
from amoc.flow import FLOW_METHODS, compute_flow
from amoc.flow import methods as flow_methods
from amoc.flow.accuracy import format_table, measure_methods
from amoc.flow.methods import (
    MIN_EPIC_MATCHES,
    epic_flow,
    grid_matches,
    interpolate_matches,
    interpolator_k,
    method_parameters,
)
from amoc.flow.synthetic import endpoint_error, make_pairs

# Mean EPE (128x64 pixels) measured on these pairs is roughly: epic 0.14, dis 0.24,
# farneback 0.31, lk 0.36; the bounds leave room for other OpenCV builds.
EPE_BOUNDS = {"epic": 0.22, "dis": 0.35, "farneback": 0.45, "lk": 0.5}


@pytest.fixture(scope="module")
def table() -> dict[str, dict]:
    return {row["method"]: row for row in measure_methods(n_pairs=6, seed=0)}


@pytest.mark.parametrize("method", sorted(EPE_BOUNDS))
def test_epe_within_bound(table: dict[str, dict], method: str) -> None:
    assert table[method]["epe"] < EPE_BOUNDS[method]
    assert table[method]["ms_per_pair"] > 0


def test_every_registered_method_has_a_bound() -> None:
    assert set(FLOW_METHODS) == set(EPE_BOUNDS)


def test_epic_beats_its_dis_matches(table: dict[str, dict]) -> None:
    assert table["epic"]["epe"] < table["dis"]["epe"]


def test_format_table_lists_methods(table: dict[str, dict]) -> None:
    text = format_table(list(table.values()))
    assert all(f"| {name} |" in text for name in EPE_BOUNDS)


@pytest.mark.parametrize("method", sorted(EPE_BOUNDS))
def test_output_contract_and_direction(method: str) -> None:
    pair = make_pairs(2, seed=3)[1]
    flow = compute_flow(method, pair.frame0, pair.frame1)
    assert flow.shape == (128, 64, 2) and flow.dtype == np.float32
    assert np.isfinite(flow).all()
    # u is x and v is y: the background estimate agrees in sign and size with the truth.
    background = pair.valid & (np.abs(pair.flow - pair.flow[0, 0]).sum(axis=-1) == 0)
    assert np.allclose(np.median(flow[background], axis=0), pair.flow[0, 0], atol=0.3)


def test_unknown_method_lists_valid_names() -> None:
    frame = np.zeros((128, 64, 3), np.uint8)
    with pytest.raises(ConfigError, match="dis, epic, farneback, lk"):
        compute_flow("raft", frame, frame)


def test_bad_frames_are_refused() -> None:
    with pytest.raises(ConfigError, match="uint8"):
        compute_flow("dis", np.zeros((128, 64, 3)), np.zeros((128, 64, 3)))
    with pytest.raises(ConfigError, match="shape"):
        compute_flow("dis", np.zeros((128, 64), np.uint8), np.zeros((128, 64), np.uint8))


def test_user_method_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FLOW_METHODS, "zero", lambda a, b: np.zeros((*a.shape[:2], 2)))
    frame = np.zeros((128, 64, 3), np.uint8)
    assert compute_flow("zero", frame, frame).dtype == np.float32
    assert method_parameters("zero") == {}
    assert method_parameters("epic")["k_max"] == 32


def test_interpolator_k_is_at_most_half_the_matches() -> None:
    assert interpolator_k(1000, 32) == 32
    assert interpolator_k(40, 32) == 20
    assert interpolator_k(3, 32) == 1


def test_too_few_matches_fall_back_to_dis() -> None:
    pair = make_pairs(1, seed=1)[0]
    grey0 = cv2.cvtColor(pair.frame0, cv2.COLOR_RGB2GRAY)
    grey1 = cv2.cvtColor(pair.frame1, cv2.COLOR_RGB2GRAY)
    points0, points1 = grid_matches(grey0, grey1, step=4, fb_threshold=1.0)
    few = MIN_EPIC_MATCHES - 1
    few_matches = (points0[:few], points1[:few])
    assert interpolate_matches(pair.frame0, pair.frame1, *few_matches, k_max=128) is None
    # Just above the minimum, K is capped and the interpolation stays finite and sensible.
    rng = np.random.default_rng(0)
    pick = rng.choice(len(points0), MIN_EPIC_MATCHES, replace=False)
    dense = interpolate_matches(pair.frame0, pair.frame1, points0[pick], points1[pick], k_max=128)
    assert dense is not None and np.isfinite(dense).all()
    assert endpoint_error(dense, pair.flow, pair.valid) < 1.0


def test_epic_on_unrelated_noise_is_finite() -> None:
    # Unrelated noise frames still leave ~100 forward-backward-consistent grid matches, so this
    # is the interpolation path on garbage input (the fallback is tested below, on epic_flow).
    rng = np.random.default_rng(0)
    frame0, frame1 = (rng.integers(0, 256, (128, 64, 3), dtype=np.uint8) for _ in range(2))
    flow = epic_flow(frame0, frame1, **method_parameters("epic"))
    assert flow.shape == (128, 64, 2) and np.isfinite(flow).all()


@pytest.mark.parametrize("kept", [MIN_EPIC_MATCHES - 1, 0])
def test_epic_flow_falls_back_to_dis_below_the_match_minimum(
        monkeypatch: pytest.MonkeyPatch, kept: int) -> None:
    """On a real pair, epic_flow itself gives dense DIS once fewer than MIN_EPIC_MATCHES of its
    grid matches survive (the matcher is cut down to `kept`), and its own flow otherwise."""
    pair = make_pairs(1, seed=1)[0]
    params = method_parameters("epic")
    full = epic_flow(pair.frame0, pair.frame1, **params)
    dis = compute_flow("dis", pair.frame0, pair.frame1)
    assert not np.array_equal(full, dis)  # enough matches: the interpolated + refined flow
    real = flow_methods.grid_matches

    def few(*args, **kw):
        points0, points1 = real(*args, **kw)
        assert len(points0) >= MIN_EPIC_MATCHES  # the cut is what makes them too few
        return points0[:kept], points1[:kept]

    monkeypatch.setattr(flow_methods, "grid_matches", few)
    np.testing.assert_array_equal(epic_flow(pair.frame0, pair.frame1, **params), dis)
