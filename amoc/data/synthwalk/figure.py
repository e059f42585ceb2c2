"""Articulated walking figure for synthwalk: the pose at frame t from a gait, drawn with cv2.

The figure is a three-quarter view: body and clothes face the camera, limbs swing along the
walking direction, so stride frequency, arm and leg swing show up as motion in the crop.
Coordinates are pixels, y down; drawing uses cv2's fixed-point `shift` for sub-pixel accuracy.
Every primitive is drawn through a `Canvas`, which can also record it as a `Shape` (its anchor
points and how to paint its mask): `amoc.data.synthwalk.truth` turns the shapes of two
consecutive frames into exact optical flow.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from amoc.data.synthwalk.identity import Appearance, Colour, Gait

SHIFT = 4  # cv2 fixed-point bits: coordinates are multiplied by 2**SHIFT
FAR_SHADE = 0.8  # far-side limbs are drawn darker, giving a hint of depth

Point = tuple[float, float]
Painter = Callable[[np.ndarray, Colour | int], None]


@dataclass(frozen=True)
class Shape:
    """One drawn primitive: anchors that fix its rigid motion, and a painter for its mask.

    One anchor: the shape translates with it. Two anchors: a rigid segment (a limb) that
    rotates and translates; their distance is the same in every frame.
    """

    anchors: tuple[Point, ...]
    paint: Painter


@dataclass
class Canvas:
    """An RGB uint8 image (H, W, 3) to draw on; with `shapes` set, every primitive is recorded."""

    img: np.ndarray
    shapes: list[Shape] | None = field(default=None)

    def draw(self, anchors: tuple[Point, ...], paint: Painter, colour: Colour) -> None:
        """Paint a primitive in `colour` and record it."""
        paint(self.img, colour)
        self.record(anchors, paint)

    def record(self, anchors: tuple[Point, ...], paint: Painter) -> None:
        """Remember a primitive drawn by other means (its mask is painted by `paint`)."""
        if self.shapes is not None:
            self.shapes.append(Shape(anchors, paint))


@dataclass(frozen=True)
class Pose:
    """Joint angles in radians (positive = towards the walking direction) and bounce in pixels."""

    hip: tuple[float, float]  # (far, near) leg angle from vertical
    knee: tuple[float, float]  # (far, near) knee flexion
    shoulder: tuple[float, float]  # (far, near) arm angle from vertical
    elbow: tuple[float, float]  # (far, near) elbow flexion
    bounce: float  # vertical offset of the body, pixels (negative = up)


def pose_at(gait: Gait, t: float) -> Pose:
    """The pose at frame `t`: legs in antiphase, each arm opposite its leg, knee bent in swing."""
    theta = 2.0 * math.pi * (gait.freq * t + gait.phase)
    s, c = math.sin(theta), math.cos(theta)
    knee_gain = 0.05 + 1.4 * gait.leg_swing
    elbow_gain = 0.8 * gait.arm_swing
    return Pose(
        hip=(-gait.leg_swing * s, gait.leg_swing * s),
        knee=(knee_gain * max(0.0, -c), knee_gain * max(0.0, c)),
        shoulder=(gait.arm_swing * s, -gait.arm_swing * s),
        elbow=(0.15 + elbow_gain * max(0.0, s), 0.15 + elbow_gain * max(0.0, -s)),
        bounce=-gait.bounce * math.cos(2.0 * theta),
    )


def _fx(value: float) -> int:
    """A coordinate or length in cv2's fixed point (`shift=SHIFT`)."""
    return round(value * (1 << SHIFT))


def _fixed(points: list[tuple[float, float]]) -> np.ndarray:
    """Polygon points as the int32 fixed-point array cv2 expects with `shift=SHIFT`."""
    return np.array([(_fx(x), _fx(y)) for x, y in points], dtype=np.int32)


def _disc(canvas: Canvas, centre: Point, radius: float, colour: Colour) -> None:
    """Filled anti-aliased circle."""
    def paint(img: np.ndarray, c: Colour | int) -> None:
        cv2.circle(img, (_fx(centre[0]), _fx(centre[1])), _fx(radius), c, -1, cv2.LINE_AA, SHIFT)
    canvas.draw((centre,), paint, colour)


def _ellipse(canvas: Canvas, centre: Point, axes: tuple[float, float], start: float, end: float,
             colour: Colour) -> None:
    """Filled anti-aliased axis-aligned ellipse (or the arc `start`..`end` degrees of it)."""
    def paint(img: np.ndarray, c: Colour | int) -> None:
        cv2.ellipse(img, (_fx(centre[0]), _fx(centre[1])), (_fx(axes[0]), _fx(axes[1])), 0.0,
                    start, end, c, -1, cv2.LINE_AA, SHIFT)
    canvas.draw((centre,), paint, colour)


def _polygon(canvas: Canvas, points: list[Point], colour: Colour) -> None:
    """Filled anti-aliased convex polygon that only translates between frames."""
    def paint(img: np.ndarray, c: Colour | int) -> None:
        cv2.fillConvexPoly(img, _fixed(points), c, cv2.LINE_AA, SHIFT)
    canvas.draw((points[0],), paint, colour)


def _capsule(canvas: Canvas, p0: Point, p1: Point, width: float, colour: Colour) -> None:
    """A limb segment: a filled quad with round ends."""
    dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    norm = math.hypot(dx, dy) or 1.0
    ox, oy = -dy / norm * width / 2, dx / norm * width / 2
    quad = [(p0[0] + ox, p0[1] + oy), (p1[0] + ox, p1[1] + oy),
            (p1[0] - ox, p1[1] - oy), (p0[0] - ox, p0[1] - oy)]

    def paint(img: np.ndarray, c: Colour | int) -> None:
        cv2.fillConvexPoly(img, _fixed(quad), c, cv2.LINE_AA, SHIFT)
        for end in (p0, p1):
            cv2.circle(img, (_fx(end[0]), _fx(end[1])), _fx(width / 2), c, -1, cv2.LINE_AA, SHIFT)
    canvas.draw((p0, p1), paint, colour)


def _step(p: Point, angle: float, length: float, facing: int) -> Point:
    """The end of a segment of `length` leaving `p` at `angle` from straight down."""
    return (p[0] + facing * length * math.sin(angle), p[1] + length * math.cos(angle))


def _shade(colour: Colour, factor: float) -> Colour:
    return (round(colour[0] * factor), round(colour[1] * factor), round(colour[2] * factor))


def _texture(look: Appearance, origin: tuple[float, float], shape: tuple[int, int]) -> np.ndarray:
    """Float (H, W, 3) image of the top's pattern, anchored to the body so it moves with it."""
    k = 2.0 * math.pi / look.texture_period
    wave_y = np.sin(k * (np.arange(shape[0], dtype=np.float32)[:, None] - origin[1]))
    wave_x = np.sin(k * (np.arange(shape[1], dtype=np.float32)[None, :] - origin[0]))
    wave = {"hstripes": wave_y, "vstripes": wave_x, "checks": wave_x * wave_y * 2.0}[look.texture]
    weight = np.broadcast_to(np.clip(0.5 + 1.5 * wave, 0.0, 1.0), shape)[..., None]
    return (1.0 - weight) * np.float32(look.top) + weight * np.float32(look.top2)


def _torso(canvas: Canvas, look: Appearance, quad: list[Point]) -> None:
    """Draw the torso, blending in the top's texture through an anti-aliased mask."""
    if look.texture == "none":
        _polygon(canvas, quad, look.top)
        return
    img = canvas.img
    top = max(0, int(min(y for _, y in quad)) - 1)
    bottom = min(img.shape[0], int(max(y for _, y in quad)) + 2)
    band = img[top:bottom]  # (h, W, 3) rows the torso can touch
    mask = np.zeros(band.shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, _fixed([(x, y - top) for x, y in quad]), 255, cv2.LINE_AA, SHIFT)
    alpha = mask[..., None].astype(np.float32) / 255.0
    pattern = _texture(look, (quad[0][0], quad[0][1] - top), band.shape[:2])
    band[:] = np.round(band * (1.0 - alpha) + pattern * alpha).astype(np.uint8)
    canvas.record((quad[0],), lambda target, c: cv2.fillConvexPoly(
        target, _fixed(quad), c, cv2.LINE_AA, SHIFT))


def _leg(canvas: Canvas, hip: Point, angles: tuple[float, float], size: float,
         look: Appearance, facing: int, shade: float) -> None:
    """Thigh, shin and shoe of one leg; `angles` = (hip angle, knee flexion)."""
    knee = _step(hip, angles[0], 0.25 * size, facing)
    ankle = _step(knee, angles[0] - angles[1], 0.23 * size, facing)
    _capsule(canvas, hip, knee, 0.075 * size * look.build, _shade(look.bottom, shade))
    _capsule(canvas, knee, ankle, 0.06 * size * look.build, _shade(look.bottom, shade))
    foot = (ankle[0] + facing * 0.03 * size, ankle[1] + 0.005 * size)
    _ellipse(canvas, foot, (0.05 * size, 0.022 * size), 0.0, 360.0, _shade(look.shoes, shade))


def _arm(canvas: Canvas, shoulder: Point, angles: tuple[float, float], size: float,
         look: Appearance, facing: int, shade: float) -> None:
    """Upper arm, forearm (sleeve colour) and hand; `angles` = (shoulder angle, elbow flexion)."""
    elbow = _step(shoulder, angles[0], 0.17 * size, facing)
    wrist = _step(elbow, angles[0] + angles[1], 0.15 * size, facing)
    width = 0.05 * size * look.build
    _capsule(canvas, shoulder, elbow, width, _shade(look.top, shade))
    _capsule(canvas, elbow, wrist, 0.85 * width, _shade(look.top, shade))
    _disc(canvas, wrist, 0.028 * size, _shade(look.skin, shade))


def _leg_extent(pose: Pose, size: float) -> float:
    """Vertical hip-to-ankle distance of the lower (stance) leg."""
    return max(0.25 * size * math.cos(h) + 0.23 * size * math.cos(h - k)
               for h, k in zip(pose.hip, pose.knee, strict=True))


def _head(canvas: Canvas, centre: Point, size: float, look: Appearance) -> None:
    """Face ellipse with the hair as its upper half."""
    axes = (0.05 * size, 0.065 * size)
    _ellipse(canvas, centre, axes, 0.0, 360.0, look.skin)
    _ellipse(canvas, centre, axes, 180.0, 360.0, look.hair)


def _trapezoid(centre_x: float, top: Point, bottom: Point) -> list[Point]:
    """Corners (top-left first, clockwise) from (half width, y) of the top and bottom edges."""
    return [(centre_x - top[0], top[1]), (centre_x + top[0], top[1]),
            (centre_x + bottom[0], bottom[1]), (centre_x - bottom[0], bottom[1])]


def draw_figure(canvas: Canvas, look: Appearance, pose: Pose, centre_x: float, baseline: float,
                size: float, facing: int) -> None:
    """Draw the person in place on the canvas, far-side limbs first (the layer order).

    Args:
        centre_x: horizontal body centre; baseline: y of the stance foot's sole;
        size: body height in pixels; facing: +1 walks right, -1 walks left.
    """
    hip_y = baseline - 0.03 * size - _leg_extent(pose, size) + pose.bounce
    shoulder_y = hip_y - 0.35 * size
    half_sh, half_hip = 0.115 * size * look.build, 0.085 * size * look.build
    hips = [(centre_x - facing * 0.04 * size * look.build, hip_y),
            (centre_x + facing * 0.04 * size * look.build, hip_y)]
    arm_dx = half_sh - 0.025 * size * look.build
    shoulders = [(centre_x - arm_dx, shoulder_y + 0.02 * size),
                 (centre_x + arm_dx, shoulder_y + 0.02 * size)]
    _arm(canvas, shoulders[0], (pose.shoulder[0], pose.elbow[0]), size, look, facing, FAR_SHADE)
    _leg(canvas, hips[0], (pose.hip[0], pose.knee[0]), size, look, facing, FAR_SHADE)
    _leg(canvas, hips[1], (pose.hip[1], pose.knee[1]), size, look, facing, 1.0)
    pelvis = _trapezoid(centre_x, (half_hip, hip_y - 0.04 * size), (half_hip, hip_y + 0.05 * size))
    _polygon(canvas, pelvis, look.bottom)
    head = (centre_x, shoulder_y - 0.105 * size)
    _capsule(canvas, head, (centre_x, shoulder_y), 0.045 * size, _shade(look.skin, FAR_SHADE))
    _torso(canvas, look,
           _trapezoid(centre_x, (half_sh, shoulder_y), (half_hip, hip_y + 0.01 * size)))
    _head(canvas, head, size, look)
    _arm(canvas, shoulders[1], (pose.shoulder[1], pose.elbow[1]), size, look, facing, 1.0)
