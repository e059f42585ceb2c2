"""synthwalk's exact optical flow: rigid motion of every shape, layer order, the `gt` store."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from amoc.data.cache import FrameCache, build_cache
from amoc.data.ilidsvid import read_ilidsvid
from amoc.data.synthwalk.figure import Canvas, Shape
from amoc.data.synthwalk.generate import generate_synthwalk, truth_path
from amoc.data.synthwalk.identity import build_identities
from amoc.data.synthwalk.render import (
    CameraStyle,
    render_sequence,
    sample_sequence,
)
from amoc.data.synthwalk.truth import frame_flow, to_store_grid
from amoc.errors import DatasetError
from amoc.flow.layout import FlowStore
from amoc.flow.store import build_flow_store

CLEAN = CameraStyle(gain=(1.0, 1.0, 1.0), noise=0.0, blur=0.0, hue=0.3)


def _disc(centre: tuple[float, float], radius: float) -> Shape:
    return Shape((centre,), lambda img, c: cv2.circle(img, (round(centre[0]), round(centre[1])),
                                                     round(radius), c, -1))


def test_translation_and_rotation_are_exact() -> None:
    """A disc translates; a segment rotating about its first anchor moves each point on a circle."""
    seg = Shape(((32.0, 40.0), (32.0, 80.0)),
                lambda img, c: cv2.line(img, (32, 40), (32, 80), c, 3))
    angle = math.radians(10.0)
    end = (32.0 + 40.0 * math.sin(-angle) * -1, 40.0 + 40.0 * math.cos(angle))
    flow = frame_flow([_disc((20.0, 20.0), 4.0), seg],
                      [((23.0, 18.5),), ((32.0, 40.0), end)], background=(0.25, -0.5), size=(128, 64))
    assert flow[20, 20].tolist() == pytest.approx([3.0, -1.5])
    assert flow[2, 60].tolist() == pytest.approx([0.25, -0.5])  # background: the view
    assert flow[40, 32].tolist() == pytest.approx([0.0, 0.0], abs=1e-5)  # the pivot stays
    # the far end of the segment lands on the rotated end point
    assert (flow[80, 32] + [32.0, 80.0]).tolist() == pytest.approx(list(end), abs=1e-4)


def test_later_shapes_occlude_earlier_ones() -> None:
    """Where two shapes overlap, the flow is the one drawn last (nearer to the camera)."""
    flow = frame_flow([_disc((30.0, 60.0), 8.0), _disc((30.0, 60.0), 3.0)],
                      [((34.0, 60.0),), ((30.0, 62.0),)], background=(0.0, 0.0), size=(128, 64))
    assert flow[60, 30].tolist() == pytest.approx([0.0, 2.0])
    assert flow[60, 36].tolist() == pytest.approx([4.0, 0.0])


def _warp_error(frame0: np.ndarray, frame1: np.ndarray, flow: np.ndarray) -> float:
    """Mean |frame0 - frame1 sampled at x + flow(x)|: small when the flow is right."""
    h, w = frame0.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    warped = cv2.remap(frame1, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)
    return float(np.abs(warped.astype(np.float32) - frame0.astype(np.float32)).mean())


def test_rendered_flow_explains_the_frames() -> None:
    """On noise-free renders the ground truth (and not its negation) halves the warping error."""
    zero, truth, flipped = [], [], []
    for identity in build_identities(4, 3, 0.5):
        rng = np.random.default_rng([3, identity.pid])
        seq = dataclasses.replace(sample_sequence(rng, 10, 10), occluder=None)
        frames, flow = render_sequence(identity, CLEAN, seq, rng)
        for t in range(len(frames) - 1):
            full = cv2.resize(flow[t], (64, 128), interpolation=cv2.INTER_LINEAR) * 2.0
            zero.append(_warp_error(frames[t], frames[t + 1], np.zeros_like(full)))
            truth.append(_warp_error(frames[t], frames[t + 1], full))
            flipped.append(_warp_error(frames[t], frames[t + 1], -full))
    assert np.mean(truth) < 0.7 * np.mean(zero)
    assert np.mean(flipped) > np.mean(zero)
    assert not flow[-1].any()  # the last frame has no successor


def test_occluder_moves_with_its_sweep() -> None:
    """Pixels of a crossing bar carry its horizontal speed, whatever lies behind it."""
    identity = build_identities(2, 0, 0.0)[0]
    rng = np.random.default_rng(5)
    occ = {"kind": "bar", "start": 0, "frames": 8, "size": 10.0, "y": 60.0,
           "colour": [10, 200, 10], "direction": 1}
    seq = dataclasses.replace(sample_sequence(rng, 8, 8), occluder=occ, pan=0.0,
                              jitter=((0.0, 0.0),) * 8)
    _, flow = render_sequence(identity, CLEAN, seq, rng)
    speed = (64 + 2 * 10.0) / 8  # px per frame at 128 x 64
    column = flow[3, :, :, 0]  # the bar covers the full height: some column is all "speed"/2
    assert np.isclose(column, speed / 2, atol=0.6).all(axis=0).any()


def test_store_grid_is_area_mean_halved() -> None:
    full = np.zeros((128, 64, 2), np.float32)
    full[:2, :2] = [4.0, -2.0]
    assert to_store_grid(full)[0, 0].tolist() == pytest.approx([2.0, -1.0])


def test_canvas_without_recording_draws_the_same(tmp_path: Path) -> None:
    """Recording shapes never changes the pixels."""
    a, b = np.zeros((16, 16, 3), np.uint8), np.zeros((16, 16, 3), np.uint8)
    paint = _disc((8.0, 8.0), 4.0).paint
    Canvas(a).draw(((8.0, 8.0),), paint, (9, 9, 9))
    Canvas(b, shapes=[]).draw(((8.0, 8.0),), paint, (9, 9, 9))
    assert (a == b).all() and a.any()


@pytest.fixture(scope="module")
def cached(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny synthwalk, its index and frame cache."""
    root = tmp_path_factory.mktemp("truth")
    generate_synthwalk(root / "raw", n_ids=4, min_len=6, max_len=9, seed=2)
    build_cache(read_ilidsvid(root / "raw", dataset="synthwalk"), root / "cache", threads=1)
    return root / "raw", root / "cache"


def test_gt_store_holds_the_rendered_flow(cached: tuple[Path, Path], tmp_path: Path) -> None:
    raw, cache = cached
    store = FlowStore(build_flow_store(cache, "gt", tmp_path / "gt"))
    index = FrameCache(cache).index
    for row in index.itertuples():
        pid, cam = int(row.pid), int(row.camid)
        written = np.load(truth_path(raw / "i-LIDS-VID", cam, pid)).astype(np.float32)
        stored = np.asarray(store.flow[row.offset:row.offset + row.n_frames], np.float32)
        assert np.array_equal(stored, written)
    assert store.meta["method"] == "gt"


def test_gt_store_names_the_missing_file(cached: tuple[Path, Path], tmp_path: Path) -> None:
    raw, cache = cached
    missing = truth_path(raw / "i-LIDS-VID", 0, 1)
    kept = missing.read_bytes()
    missing.unlink()
    try:
        with pytest.raises(DatasetError, match=str(missing)):
            build_flow_store(cache, "gt", tmp_path / "gt")
    finally:
        missing.write_bytes(kept)
