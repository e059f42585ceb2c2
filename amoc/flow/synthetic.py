"""Synthetic 128x64 frame pairs with a known displacement field, to measure flow accuracy.

A textured background moves by a global shift and an independently moving textured ellipse (a
stand-in for a walking person) moves by its own shift. Shifts alternate between integer and
sub-pixel values. The ground truth is defined at frame-0 pixels; pixels that are hidden in frame 1
(background newly covered by the ellipse) are excluded from the error via `valid`.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

HEIGHT, WIDTH = 128, 64
_PAD = 16  # texture margin so shifted samples never leave the texture


class FlowPair(NamedTuple):
    """Two RGB frames, the true flow from frame0 to frame1, and where it is observable."""

    frame0: np.ndarray  # (H, W, 3) uint8
    frame1: np.ndarray  # (H, W, 3) uint8
    flow: np.ndarray  # (H, W, 2) float32, u = x, v = y
    valid: np.ndarray  # (H, W) bool


def _texture(rng: np.random.Generator) -> np.ndarray:
    """Smooth multi-scale colour texture, (H + 2 PAD, W + 2 PAD, 3) float32 in [0, 255]."""
    shape = (HEIGHT + 2 * _PAD, WIDTH + 2 * _PAD, 3)
    tex = np.zeros(shape, np.float32)
    for sigma, weight in ((1.0, 0.5), (3.0, 1.0), (8.0, 1.5)):
        noise = rng.standard_normal(shape).astype(np.float32)
        blurred = cv2.GaussianBlur(noise, (0, 0), sigma)
        tex += weight * blurred / (blurred.std() + 1e-6)
    tex = (tex - tex.min()) / (tex.max() - tex.min())
    return 20.0 + 215.0 * tex


def _sample(tex: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """The (H, W) window of `tex` whose content appears moved by (dx, dy) (bilinear)."""
    xs, ys = np.meshgrid(np.arange(WIDTH, dtype=np.float32), np.arange(HEIGHT, dtype=np.float32))
    return cv2.remap(tex, xs + _PAD - dx, ys + _PAD - dy, cv2.INTER_LINEAR)


def _ellipse_mask(cx: float, cy: float, ax: float, ay: float) -> np.ndarray:
    """(H, W) float32 soft-edged ellipse mask (anti-aliased over about one pixel)."""
    xs, ys = np.meshgrid(np.arange(WIDTH) + 0.5, np.arange(HEIGHT) + 0.5)
    radius = np.sqrt(((xs - cx) / ax) ** 2 + ((ys - cy) / ay) ** 2)
    return np.clip((1.0 - radius) * min(ax, ay) + 0.5, 0.0, 1.0).astype(np.float32)


def _shift(rng: np.random.Generator, limit: float, integer: bool) -> tuple[float, float]:
    """A random 2-D shift in [-limit, limit]; rounded to whole pixels when `integer`."""
    dx, dy = rng.uniform(-limit, limit, size=2)
    return (float(round(dx)), float(round(dy))) if integer else (float(dx), float(dy))


def _to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def make_pair(rng: np.random.Generator, integer: bool) -> FlowPair:
    """One synthetic pair: background shift up to 2 px, ellipse shift up to 4 px."""
    bg_tex, fg_tex = _texture(rng), _texture(rng)
    bg, fg = _shift(rng, 2.0, integer), _shift(rng, 4.0, integer)
    cx, cy = rng.uniform(24, 40), rng.uniform(48, 80)
    ax, ay = rng.uniform(10, 16), rng.uniform(24, 36)
    m0 = _ellipse_mask(cx, cy, ax, ay)[..., None]
    m1 = _ellipse_mask(cx + fg[0], cy + fg[1], ax, ay)[..., None]
    frame0 = (1 - m0) * _sample(bg_tex, 0, 0) + m0 * _sample(fg_tex, 0, 0)
    frame1 = (1 - m1) * _sample(bg_tex, *bg) + m1 * _sample(fg_tex, *fg)
    inside = m0[..., 0] > 0.5
    flow = np.where(inside[..., None], np.float32(fg), np.float32(bg)).astype(np.float32)
    # A pixel is observable if its frame-1 position is in the frame and on the same layer.
    xs, ys = np.meshgrid(np.arange(WIDTH), np.arange(HEIGHT))
    x1, y1 = np.rint(xs + flow[..., 0]).astype(int), np.rint(ys + flow[..., 1]).astype(int)
    in_frame = (x1 >= 0) & (x1 < WIDTH) & (y1 >= 0) & (y1 < HEIGHT)
    layer1 = m1[np.clip(y1, 0, HEIGHT - 1), np.clip(x1, 0, WIDTH - 1), 0] > 0.5
    valid = in_frame & (layer1 == inside) & (np.abs(m0[..., 0] - 0.5) > 0.45)
    return FlowPair(_to_uint8(frame0), _to_uint8(frame1), flow, valid)


def make_pairs(n_pairs: int, seed: int = 0) -> list[FlowPair]:
    """`n_pairs` pairs, alternately with integer and sub-pixel shifts, reproducible from `seed`."""
    rng = np.random.default_rng(seed)
    return [make_pair(rng, integer=(i % 2 == 0)) for i in range(n_pairs)]


def endpoint_error(flow: np.ndarray, truth: np.ndarray, valid: np.ndarray) -> float:
    """Mean Euclidean distance between estimated and true flow vectors over `valid` pixels."""
    err = np.linalg.norm(flow.astype(np.float64) - truth, axis=-1)
    return float(err[valid].mean())


def make_sequence(
    n_frames: int, shift: tuple[float, float], seed: int = 0
) -> np.ndarray:
    """A tracklet whose textured content moves by `shift` (dx, dy) pixels per frame.

    Returns:
        uint8 (n_frames, 128, 64, 3) RGB frames; the true flow of every pair is `shift`.
    """
    texture = _texture(np.random.default_rng(seed))
    frames = [_sample(texture, t * shift[0], t * shift[1]) for t in range(n_frames)]
    return _to_uint8(np.stack(frames))
