"""Scene and camera for synthwalk: background clutter, occluders, illumination, blur and noise.

The two cameras differ systematically (colour cast, gain, noise, blur, background palette) and
every sequence varies a little (gain, scale, drift, background, walking direction, occluder), so
a model has to learn invariance to the camera rather than match pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from amoc.data.synthwalk.figure import Canvas, Shape, draw_figure, pose_at
from amoc.data.synthwalk.identity import Identity
from amoc.data.synthwalk.truth import GRID, frame_flow, to_store_grid

HEIGHT, WIDTH = 128, 64
# Relative contrast of the fine surface texture of walls and floors: real scenes are textured,
# which makes the background's motion (the pan) observable, as it is for a real tracker's box.
BACKGROUND_GRAIN = 0.12
# Camera-relative motion of the view, calibrated on the real iLIDS-VID and PRID-2011 frames in
# shared/data (DIS flow on the 64 x 32 grid, docs/synthwalk.md): the tracked box slides over the
# scene (pan, px/frame at 128 x 64, uniform in +-PAN_SPEED) and wobbles from frame to frame (an
# AR(1) offset of the whole view with memory JITTER_MEMORY and a per-sequence innovation sigma
# drawn from JITTER_SIGMA, px).
PAN_SPEED = 2.0
JITTER_MEMORY = 0.6
JITTER_SIGMA = (0.2, 0.9)

# Per-camera ranges: cam1 is bright, warm and clean; cam2 is dim, cool, noisier and softer.
CAMERA_RANGES: tuple[dict[str, tuple[float, float]], ...] = (
    {"r": (1.05, 1.15), "g": (0.95, 1.02), "b": (0.78, 0.88), "level": (0.95, 1.05),
     "noise": (2.0, 3.5), "blur": (0.0, 0.2), "hue": (0.05, 0.12)},
    {"r": (0.75, 0.85), "g": (0.9, 1.0), "b": (1.02, 1.12), "level": (0.75, 0.88),
     "noise": (4.0, 6.0), "blur": (0.6, 0.9), "hue": (0.5, 0.62)},
)


@dataclass(frozen=True)
class CameraStyle:
    """Fixed properties of one camera."""

    gain: tuple[float, float, float]  # per-channel RGB gain (colour cast times level)
    noise: float  # Gaussian noise sigma, grey levels
    blur: float  # Gaussian blur sigma, pixels (0 = none)
    hue: float  # hue of the background palette, [0, 1)


@dataclass(frozen=True)
class SequenceParams:
    """Everything random about one sequence besides the identity and the camera."""

    n_frames: int
    scale: float  # body size multiplier (distance to the camera)
    baseline: float  # y of the feet
    facing: int  # +1 walks right, -1 walks left
    drift: tuple[float, float, float]  # horizontal drift: amplitude px, period frames, phase
    pan: float  # background speed, px/frame (the tracked box moves over the scene)
    jitter: tuple[tuple[float, float], ...]  # (dx, dy) px of the whole view per frame (tracker)
    gain_jitter: tuple[float, float, float]
    occluder: dict | None  # kind, start, frames, size, y, colour, direction


def sample_camera(rng: np.random.Generator, cam: int) -> CameraStyle:
    """Draw the style of camera `cam` (0-based) within its range."""
    ranges = CAMERA_RANGES[cam % len(CAMERA_RANGES)]
    level = rng.uniform(*ranges["level"])
    gain = tuple(float(level * rng.uniform(*ranges[ch])) for ch in "rgb")
    return CameraStyle(gain, float(rng.uniform(*ranges["noise"])),
                       float(rng.uniform(*ranges["blur"])), float(rng.uniform(*ranges["hue"])))


def _sample_occluder(rng: np.random.Generator, n_frames: int) -> dict | None:
    """An occluder crossing the frame for a few frames, in about a third of the sequences."""
    if rng.random() >= 0.35:
        return None
    frames = int(min(n_frames, rng.integers(6, 13)))
    return {"kind": "bar" if rng.random() < 0.5 else "blob",
            "start": int(rng.integers(0, n_frames - frames + 1)), "frames": frames,
            "size": float(rng.uniform(6.0, 14.0)), "y": float(rng.uniform(30.0, 110.0)),
            "colour": [int(v) for v in rng.integers(20, 200, size=3)],
            "direction": 1 if rng.random() < 0.5 else -1}


def _tracker_jitter(rng: np.random.Generator, n_frames: int) -> tuple[tuple[float, float], ...]:
    """Per-frame offset of the whole view: an AR(1) walk, as a detector's box wobbles."""
    sigma = rng.uniform(*JITTER_SIGMA)
    offsets, current = [], np.zeros(2)
    for _ in range(n_frames):
        current = JITTER_MEMORY * current + rng.normal(0.0, sigma, size=2)
        offsets.append((float(current[0]), float(current[1])))
    return tuple(offsets)


def sample_sequence(rng: np.random.Generator, min_len: int, max_len: int) -> SequenceParams:
    """Draw the per-sequence variation."""
    n_frames = int(rng.integers(min_len, max_len + 1))
    return SequenceParams(
        n_frames=n_frames,
        scale=float(rng.uniform(0.9, 1.06)),
        baseline=float(rng.uniform(121.0, 126.0)),
        facing=1 if rng.random() < 0.5 else -1,
        drift=(float(rng.uniform(0.5, 2.5)), float(rng.uniform(20.0, 60.0)), float(rng.random())),
        pan=float(rng.uniform(-PAN_SPEED, PAN_SPEED)),
        jitter=_tracker_jitter(rng, n_frames),
        gain_jitter=tuple(float(v) for v in 1.0 + rng.normal(0.0, 0.03, size=3)),
        occluder=_sample_occluder(rng, n_frames),
    )


def render_background(rng: np.random.Generator, style: CameraStyle, width: int,
                      height: int = HEIGHT) -> np.ndarray:
    """A (height, width, 3) uint8 scene: wall/floor gradient plus clutter rectangles."""
    horizon = rng.uniform(40.0, 90.0) + (height - HEIGHT) / 2
    ys = np.arange(height, dtype=np.float32)[:, None, None]
    wall = _palette(rng, style.hue, 0.5, 0.9)
    floor = _palette(rng, style.hue, 0.25, 0.6)
    mix = np.clip((ys - horizon) / 6.0 + 0.5, 0.0, 1.0)
    img = np.broadcast_to((1 - mix) * wall + mix * floor, (height, width, 3)).astype(np.uint8)
    img = np.ascontiguousarray(img)
    for _ in range(int(rng.integers(4, 10))):
        x0, y0 = rng.uniform(-10, width), rng.uniform(-10, height)
        w, h = rng.uniform(4, 30), rng.uniform(4, 50)
        colour = tuple(int(v) for v in _palette(rng, style.hue, 0.2, 0.95))
        cv2.rectangle(img, (int(x0), int(y0)), (int(x0 + w), int(y0 + h)), colour, -1)
    img = cv2.GaussianBlur(img, (0, 0), 0.8).astype(np.float32)
    grain = cv2.GaussianBlur(rng.standard_normal(img.shape[:2]).astype(np.float32), (0, 0), 1.2)
    img *= 1.0 + BACKGROUND_GRAIN * grain[..., None] / grain.std()
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def _palette(rng: np.random.Generator, hue: float, low: float, high: float) -> np.ndarray:
    """A float RGB colour (3,) near the camera's hue with value in [low, high]."""
    h = (hue + rng.normal(0.0, 0.05)) % 1.0
    hsv = np.array([[[h * 180.0, rng.uniform(0.1, 0.5) * 255, rng.uniform(low, high) * 255]]])
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _occluder_shape(occ: dict, t: int, view: tuple[float, float] = (0.0, 0.0)) -> Shape:
    """The occluder as it is (or would be) at frame `t`, seen through the view offset `view`:
    it sweeps across the width."""
    progress = (t - occ["start"] + 0.5) / occ["frames"]
    x = -occ["size"] + progress * (WIDTH + 2 * occ["size"])
    x = (x if occ["direction"] > 0 else WIDTH - x) + view[0]
    if occ["kind"] == "bar":
        left, right = int(x - occ["size"] / 2), int(x + occ["size"] / 2)
        return Shape(((float(left), 0.0),),
                     lambda img, c: cv2.rectangle(img, (left, 0), (right, HEIGHT), c, -1))
    centre, axes = (int(x), int(occ["y"] + view[1])), (int(occ["size"]), int(1.6 * occ["size"]))
    return Shape(((float(centre[0]), float(centre[1])),),
                 lambda img, c: cv2.ellipse(img, centre, axes, 0.0, 0.0, 360.0, c, -1, cv2.LINE_AA))


def _occluder_visible(occ: dict | None, t: int) -> bool:
    return occ is not None and 0 <= t - occ["start"] < occ["frames"]


def _camera(img: np.ndarray, style: CameraStyle, seq: SequenceParams,
            rng: np.random.Generator) -> np.ndarray:
    """Apply the camera: optics blur, per-channel gain and sensor noise."""
    out = img.astype(np.float32)
    if style.blur > 0.3:
        out = cv2.GaussianBlur(out, (0, 0), style.blur)
    out *= np.float32(style.gain) * np.float32(seq.gain_jitter)
    out += rng.standard_normal(out.shape, dtype=np.float32) * np.float32(style.noise)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def render_sequence(identity: Identity, style: CameraStyle, seq: SequenceParams,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Render one tracklet and its exact optical flow (`amoc.data.synthwalk.truth`).

    Returns:
        frames: uint8 RGB, shape (n_frames, HEIGHT, WIDTH, 3);
        flow: float32 (n_frames, 64, 32, 2), frame t to t + 1 in pixels of the 64 x 32 grid,
            the last row zero.
    """
    view = np.array(seq.jitter, np.float32)  # (n_frames, 2) offset of the whole view
    scene_x = seq.pan * np.arange(seq.n_frames) + view[:, 0]  # background content position
    x_pad, y_pad = math.ceil(scene_x.max() - scene_x.min()) + 4, math.ceil(np.abs(view[:, 1]).max()) + 2
    background = render_background(rng, style, WIDTH + x_pad, HEIGHT + 2 * y_pad)
    frames = np.empty((seq.n_frames, HEIGHT, WIDTH, 3), np.uint8)
    layers: list[list[Shape]] = []
    amp, period, phase = seq.drift
    for t in range(seq.n_frames):
        # content at background column 2 + max - scene_x[t] + x shows at x (and rows likewise)
        matrix = np.float32([[1, 0, scene_x[t] - scene_x.max() - 2], [0, 1, view[t, 1] - y_pad]])
        img = cv2.warpAffine(background, matrix, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REFLECT)
        centre_x = WIDTH / 2 + amp * math.sin(2 * math.pi * (t / period + phase)) + view[t, 0]
        canvas = Canvas(img, shapes=[])
        draw_figure(canvas, identity.appearance, pose_at(identity.gait, t), centre_x,
                    seq.baseline + view[t, 1], identity.appearance.height * seq.scale, seq.facing)
        layers.append(canvas.shapes)
        if _occluder_visible(seq.occluder, t):
            _occluder_shape(seq.occluder, t, seq.jitter[t]).paint(img, tuple(seq.occluder["colour"]))
        frames[t] = _camera(img, style, seq, rng)
    return frames, _sequence_flow(layers, seq, np.diff(np.column_stack([scene_x, view[:, 1]]), axis=0))


def _sequence_flow(layers: list[list[Shape]], seq: SequenceParams,
                   background: np.ndarray) -> np.ndarray:
    """Stored-grid flow rows of a sequence from the figure's shapes in every frame.

    `background` (n_frames - 1, 2) is the scene's displacement (u, v) from frame t to t + 1.
    """
    flow = np.zeros((seq.n_frames, *GRID, 2), np.float32)
    for t in range(seq.n_frames - 1):
        shapes0, shapes1 = list(layers[t]), [s.anchors for s in layers[t + 1]]
        if _occluder_visible(seq.occluder, t):
            shapes0.append(_occluder_shape(seq.occluder, t, seq.jitter[t]))
            shapes1.append(_occluder_shape(seq.occluder, t + 1, seq.jitter[t + 1]).anchors)
        flow[t] = to_store_grid(frame_flow(shapes0, shapes1, tuple(background[t]), (HEIGHT, WIDTH)))
    return flow
