"""Articulated walking figure for synthwalk: the pose at frame t from a gait, drawn with cv2.

The figure is a three-quarter view: body and clothes face the camera, limbs swing along the
walking direction, so stride frequency, arm and leg swing show up as motion in the crop.
Coordinates are pixels, y down; drawing uses cv2's fixed-point `shift` for sub-pixel accuracy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from amoc.data.synthwalk.identity import Appearance, Colour, Gait

SHIFT = 4  # cv2 fixed-point bits: coordinates are multiplied by 2**SHIFT
FAR_SHADE = 0.8  # far-side limbs are drawn darker, giving a hint of depth


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


def _disc(img: np.ndarray, centre: tuple[float, float], radius: float, colour: Colour) -> None:
    """Filled anti-aliased circle."""
    cv2.circle(img, (_fx(centre[0]), _fx(centre[1])), _fx(radius), colour, -1, cv2.LINE_AA, SHIFT)


def _capsule(img: np.ndarray, p0: tuple[float, float], p1: tuple[float, float],
             width: float, colour: Colour) -> None:
    """A limb segment: a filled quad with round ends."""
    dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    norm = math.hypot(dx, dy) or 1.0
    ox, oy = -dy / norm * width / 2, dx / norm * width / 2
    quad = [(p0[0] + ox, p0[1] + oy), (p1[0] + ox, p1[1] + oy),
            (p1[0] - ox, p1[1] - oy), (p0[0] - ox, p0[1] - oy)]
    cv2.fillConvexPoly(img, _fixed(quad), colour, cv2.LINE_AA, SHIFT)
    _disc(img, p0, width / 2, colour)
    _disc(img, p1, width / 2, colour)


def _step(p: tuple[float, float], angle: float, length: float, facing: int) -> tuple[float, float]:
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


def _torso(img: np.ndarray, look: Appearance, quad: list[tuple[float, float]]) -> None:
    """Draw the torso, blending in the top's texture through an anti-aliased mask."""
    if look.texture == "none":
        cv2.fillConvexPoly(img, _fixed(quad), look.top, cv2.LINE_AA, SHIFT)
        return
    top = max(0, int(min(y for _, y in quad)) - 1)
    bottom = min(img.shape[0], int(max(y for _, y in quad)) + 2)
    band = img[top:bottom]  # (h, W, 3) rows the torso can touch
    mask = np.zeros(band.shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, _fixed([(x, y - top) for x, y in quad]), 255, cv2.LINE_AA, SHIFT)
    alpha = mask[..., None].astype(np.float32) / 255.0
    pattern = _texture(look, (quad[0][0], quad[0][1] - top), band.shape[:2])
    band[:] = np.round(band * (1.0 - alpha) + pattern * alpha).astype(np.uint8)


def _leg(img: np.ndarray, hip: tuple[float, float], angles: tuple[float, float], size: float,
         look: Appearance, facing: int, shade: float) -> None:
    """Thigh, shin and shoe of one leg; `angles` = (hip angle, knee flexion)."""
    knee = _step(hip, angles[0], 0.25 * size, facing)
    ankle = _step(knee, angles[0] - angles[1], 0.23 * size, facing)
    _capsule(img, hip, knee, 0.075 * size * look.build, _shade(look.bottom, shade))
    _capsule(img, knee, ankle, 0.06 * size * look.build, _shade(look.bottom, shade))
    foot = (ankle[0] + facing * 0.03 * size, ankle[1] + 0.005 * size)
    axes = (_fx(0.05 * size), _fx(0.022 * size))
    cv2.ellipse(img, (_fx(foot[0]), _fx(foot[1])), axes, 0.0, 0.0, 360.0,
                _shade(look.shoes, shade), -1, cv2.LINE_AA, SHIFT)


def _arm(img: np.ndarray, shoulder: tuple[float, float], angles: tuple[float, float],
         size: float, look: Appearance, facing: int, shade: float) -> None:
    """Upper arm, forearm (sleeve colour) and hand; `angles` = (shoulder angle, elbow flexion)."""
    elbow = _step(shoulder, angles[0], 0.17 * size, facing)
    wrist = _step(elbow, angles[0] + angles[1], 0.15 * size, facing)
    width = 0.05 * size * look.build
    _capsule(img, shoulder, elbow, width, _shade(look.top, shade))
    _capsule(img, elbow, wrist, 0.85 * width, _shade(look.top, shade))
    _disc(img, wrist, 0.028 * size, _shade(look.skin, shade))


def _leg_extent(pose: Pose, size: float) -> float:
    """Vertical hip-to-ankle distance of the lower (stance) leg."""
    return max(0.25 * size * math.cos(h) + 0.23 * size * math.cos(h - k)
               for h, k in zip(pose.hip, pose.knee, strict=True))


def _head(img: np.ndarray, centre: tuple[float, float], size: float, look: Appearance) -> None:
    """Face ellipse with the hair as its upper half."""
    axes = (_fx(0.05 * size), _fx(0.065 * size))
    centre_px = (_fx(centre[0]), _fx(centre[1]))
    cv2.ellipse(img, centre_px, axes, 0.0, 0.0, 360.0, look.skin, -1, cv2.LINE_AA, SHIFT)
    cv2.ellipse(img, centre_px, axes, 0.0, 180.0, 360.0, look.hair, -1, cv2.LINE_AA, SHIFT)


def _trapezoid(centre_x: float, top: tuple[float, float], bottom: tuple[float, float]
               ) -> list[tuple[float, float]]:
    """Corners (top-left first, clockwise) from (half width, y) of the top and bottom edges."""
    return [(centre_x - top[0], top[1]), (centre_x + top[0], top[1]),
            (centre_x + bottom[0], bottom[1]), (centre_x - bottom[0], bottom[1])]


def draw_figure(img: np.ndarray, look: Appearance, pose: Pose, centre_x: float, baseline: float,
                size: float, facing: int) -> None:
    """Draw the person in place on the RGB uint8 `img` (H, W, 3).

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
    _arm(img, shoulders[0], (pose.shoulder[0], pose.elbow[0]), size, look, facing, FAR_SHADE)
    _leg(img, hips[0], (pose.hip[0], pose.knee[0]), size, look, facing, FAR_SHADE)
    _leg(img, hips[1], (pose.hip[1], pose.knee[1]), size, look, facing, 1.0)
    pelvis = _trapezoid(centre_x, (half_hip, hip_y - 0.04 * size), (half_hip, hip_y + 0.05 * size))
    cv2.fillConvexPoly(img, _fixed(pelvis), look.bottom, cv2.LINE_AA, SHIFT)
    head = (centre_x, shoulder_y - 0.105 * size)
    _capsule(img, head, (centre_x, shoulder_y), 0.045 * size, _shade(look.skin, FAR_SHADE))
    _torso(img, look,
           _trapezoid(centre_x, (half_sh, shoulder_y), (half_hip, hip_y + 0.01 * size)))
    _head(img, head, size, look)
    _arm(img, shoulders[1], (pose.shoulder[1], pose.elbow[1]), size, look, facing, 1.0)
