"""Middlebury colour coding, checked against the flow_vis package."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amoc.flow import flow_to_color
from amoc.flow.colorcode import color_wheel


@pytest.fixture(scope="module")
def flow_vis():
    """The reference implementation (a declared test dependency: missing it is an error in the
    tests that compare against it, never a skip of the whole module)."""
    return importlib.import_module("flow_vis")


def test_wheel_has_55_middlebury_colours(flow_vis) -> None:
    wheel = color_wheel()
    assert wheel.shape == (55, 3)
    np.testing.assert_array_equal(wheel, flow_vis.make_colorwheel())


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), scale=st.floats(0.01, 100.0))
def test_matches_flow_vis_on_random_fields(flow_vis, seed: int, scale: float) -> None:
    flow = np.random.default_rng(seed).normal(size=(24, 16, 2)) * scale
    ours = flow_to_color(flow).astype(int)
    # flow_vis normalises by the largest magnitude (+1e-5); no clip_flow (it zeroes negatives).
    theirs = flow_vis.flow_to_color(flow, convert_to_bgr=False).astype(int)
    assert np.abs(ours - theirs).max() <= 1


def test_largest_vector_is_not_darkened_by_rounding(flow_vis) -> None:
    # seed/scale found by hypothesis: |largest| / max rounded to 1 + 2e-16 and was darkened.
    flow = np.random.default_rng(6882257).normal(size=(24, 16, 2)) * 20.51601955139841
    theirs = flow_vis.flow_to_color(flow, convert_to_bgr=False).astype(int)
    assert np.abs(flow_to_color(flow).astype(int) - theirs).max() <= 1


def test_max_flow_saturates_at_given_magnitude(flow_vis) -> None:
    flow = np.random.default_rng(1).normal(size=(32, 32, 2)) * 3.0
    ours = flow_to_color(flow, max_flow=2.0).astype(int)
    theirs = flow_vis.flow_uv_to_colors(flow[..., 0] / 2.0, flow[..., 1] / 2.0).astype(int)
    assert np.abs(ours - theirs).max() <= 1


def test_directions_and_zero() -> None:
    flow = np.zeros((1, 3, 2))
    flow[0, 1] = (1.0, 0.0)  # right
    flow[0, 2] = (-1.0, 0.0)  # left
    image = flow_to_color(flow)
    assert image.dtype == np.uint8 and image.shape == (1, 3, 3)
    assert tuple(image[0, 0]) == (255, 255, 255)  # no motion is white
    assert tuple(image[0, 1]) == (255, 0, 0)  # rightward motion is red
    assert tuple(image[0, 2]) == (0, 209, 255)  # leftward motion is cyan-blue


def test_unknown_flow_is_black_and_ignored_for_scaling() -> None:
    flow = np.random.default_rng(2).normal(size=(8, 8, 2))
    reference = flow_to_color(flow)
    flow[0, 0] = (np.nan, 0.0)
    flow[0, 1] = (1e10, 0.0)
    image = flow_to_color(flow)
    assert (image[0, :2] == 0).all()
    np.testing.assert_array_equal(image[1:], reference[1:])


def test_all_zero_and_bad_shape() -> None:
    assert (flow_to_color(np.zeros((4, 4, 2))) == 255).all()
    with pytest.raises(ValueError, match="H, W, 2"):
        flow_to_color(np.zeros((4, 4)))
