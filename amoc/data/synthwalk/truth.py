"""Exact optical flow of a synthwalk sequence, from the shapes drawn in consecutive frames.

Every primitive of a frame is recorded with its anchors (`amoc.data.synthwalk.figure.Shape`);
the same primitive in frame t + 1 has moved rigidly: one anchor means a translation, two anchors
a limb segment of fixed length (rotation about its first end plus translation). The flow of a
pixel is where its point of the shape goes, painted layer by layer in drawing order, so nearer
parts occlude farther ones exactly as in the image. Under the figure the background moves with
the view (the tracked box sliding over the scene plus its frame-to-frame wobble); an occluder
moves with its own sweep speed plus the wobble.

Flow is from frame t to t + 1 (u = x right, v = y down), computed on the 128 x 64 frame, then
stored like an offline flow store: area-resized to 64 x 32 and halved (pixels of the 64 x 32
grid, the motion net's Pred3 grid); the last frame's row is zero.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from amoc.data.synthwalk.figure import Point, Shape

MASK_LEVEL = 128  # a pixel belongs to a shape where its anti-aliased coverage is >= 50%
GRID = (64, 32)  # (H, W) of stored flow


def _rigid(anchors0: tuple[Point, ...], anchors1: tuple[Point, ...], xs: np.ndarray,
           ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Displacement (u, v) of the points (xs, ys) under the motion that takes anchors0 to anchors1."""
    (x0, y0), (x1, y1) = anchors0[0], anchors1[0]
    if len(anchors0) == 1:
        return np.full_like(xs, x1 - x0), np.full_like(ys, y1 - y0)
    angle0 = math.atan2(anchors0[1][1] - y0, anchors0[1][0] - x0)
    angle1 = math.atan2(anchors1[1][1] - y1, anchors1[1][0] - x1)
    c, s = math.cos(angle1 - angle0), math.sin(angle1 - angle0)
    dx, dy = xs - x0, ys - y0
    return x1 + c * dx - s * dy - xs, y1 + s * dx + c * dy - ys


def frame_flow(shapes0: list[Shape], shapes1: list[tuple[Point, ...]],
               background: tuple[float, float], size: tuple[int, int]) -> np.ndarray:
    """Full-resolution flow (H, W, 2) of one frame pair.

    Args:
        shapes0: the shapes of frame t in drawing order.
        shapes1: the anchors of the same shapes in frame t + 1 (same order and length).
        background: (u, v) motion of the scene behind every shape, pixels.
        size: (H, W) of the frame.
    """
    flow = np.zeros((*size, 2), np.float32)
    flow[...] = background
    mask = np.zeros(size, np.uint8)
    for shape, anchors1 in zip(shapes0, shapes1, strict=True):
        mask[:] = 0
        shape.paint(mask, 255)
        ys, xs = np.nonzero(mask >= MASK_LEVEL)
        if len(xs):
            u, v = _rigid(shape.anchors, anchors1, xs.astype(np.float32), ys.astype(np.float32))
            flow[ys, xs, 0], flow[ys, xs, 1] = u, v
    return flow


def to_store_grid(flow: np.ndarray) -> np.ndarray:
    """(128, 64, 2) flow in 128 x 64 pixels -> (64, 32, 2) in 64 x 32 pixels (area mean, halved)."""
    return cv2.resize(flow, (GRID[1], GRID[0]), interpolation=cv2.INTER_AREA) * 0.5
