"""Middlebury flow colour coding (Baker et al., "A Database and Evaluation Methodology for
Optical Flow"): direction picks a hue on a 55-colour wheel, magnitude the saturation.

Written from the published description so figures of stored flow look like every other paper's.
"""

from __future__ import annotations

import numpy as np

# Segments of the wheel: (number of colours, start RGB, end RGB); hue ramps linearly within one.
_SEGMENTS = (
    (15, (255, 0, 0), (255, 255, 0)),  # red -> yellow
    (6, (255, 255, 0), (0, 255, 0)),  # yellow -> green
    (4, (0, 255, 0), (0, 255, 255)),  # green -> cyan
    (11, (0, 255, 255), (0, 0, 255)),  # cyan -> blue
    (13, (0, 0, 255), (255, 0, 255)),  # blue -> magenta
    (6, (255, 0, 255), (255, 0, 0)),  # magenta -> red
)
UNKNOWN_THRESHOLD = 1e9  # Middlebury convention: larger components mean "no flow known"


def color_wheel() -> np.ndarray:
    """The 55 wheel colours, float64 (55, 3) RGB in [0, 255], starting at red."""
    rows = []
    for count, start, end in _SEGMENTS:
        step = np.floor(255.0 * np.arange(count) / count)[:, None]  # (count, 1)
        start_a, end_a = np.array(start, float), np.array(end, float)
        rows.append(start_a + np.sign(end_a - start_a) * step)
    return np.concatenate(rows, axis=0)


RADIUS_TOLERANCE = 1e-9


def _unit_flow_to_color(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Colour for flow already divided by the normalising magnitude; (H, W, 3) uint8 RGB."""
    wheel = color_wheel()
    n_colors = len(wheel)
    radius = np.sqrt(u * u + v * v)
    angle = np.arctan2(-v, -u) / np.pi  # in [-1, 1]
    position = (angle + 1.0) / 2.0 * (n_colors - 1)
    k0 = np.floor(position).astype(int)
    k1 = np.where(k0 + 1 == n_colors, 0, k0 + 1)
    frac = (position - k0)[..., None]
    color = ((1.0 - frac) * wheel[k0] + frac * wheel[k1]) / 255.0  # (H, W, 3)
    # The largest vector, normalised by its own magnitude, can land at 1 + 2e-16: still inside.
    inside = (radius <= 1.0 + RADIUS_TOLERANCE)[..., None]
    # Inside the unit circle, small motion fades to white; outside it is darkened.
    color = np.where(inside, 1.0 - radius[..., None] * (1.0 - color), color * 0.75)
    return np.floor(255.0 * np.clip(color, 0.0, 1.0)).astype(np.uint8)


def flow_to_color(flow: np.ndarray, max_flow: float | None = None) -> np.ndarray:
    """Render flow (H, W, 2), u = x and v = y, as a Middlebury-coded RGB uint8 image (H, W, 3).

    Args:
        flow: float flow field; NaN or components above 1e9 in magnitude are unknown -> black.
        max_flow: magnitude mapped to full saturation; default: the largest known magnitude.
    """
    flow = np.asarray(flow, dtype=np.float64)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"flow must have shape (H, W, 2); got {flow.shape}")
    known = np.isfinite(flow).all(axis=-1) & (np.abs(flow) <= UNKNOWN_THRESHOLD).all(axis=-1)
    u = np.where(known, flow[..., 0], 0.0)
    v = np.where(known, flow[..., 1], 0.0)
    if max_flow is None:
        max_flow = float(np.sqrt(u * u + v * v).max(initial=0.0))
    scale = max_flow if max_flow > 0 else 1.0
    image = _unit_flow_to_color(u / scale, v / scale)
    image[~known] = 0
    return image
