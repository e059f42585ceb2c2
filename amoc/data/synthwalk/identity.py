"""Per-identity parameters of synthwalk: appearance (clothes, body) and gait (how the person walks).

Twin pairs share every appearance parameter and get gaits from disjoint bands (slow and small arm
swing vs fast and large arm swing), so only motion tells them apart, which is the cue AMOC adds.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

Colour = tuple[int, int, int]
TEXTURES = ("none", "hstripes", "vstripes", "checks")

# Gait bands (low, high) per parameter; twins draw from "slow" and "fast", others from "any".
GAIT_BANDS: dict[str, dict[str, tuple[float, float]]] = {
    "slow": {"freq": (0.028, 0.035), "arm_swing": (0.12, 0.28), "leg_swing": (0.22, 0.32)},
    "fast": {"freq": (0.055, 0.065), "arm_swing": (0.5, 0.7), "leg_swing": (0.42, 0.55)},
    "any": {"freq": (0.028, 0.065), "arm_swing": (0.12, 0.7), "leg_swing": (0.22, 0.55)},
}


@dataclass(frozen=True)
class Appearance:
    """What a single frame shows of a person: body size, build and clothing."""

    height: float  # body height in pixels before per-sequence scale jitter
    build: float  # width multiplier (1 = average)
    top: Colour
    top2: Colour  # second colour of the texture
    texture: str  # one of TEXTURES
    texture_period: int  # pixels per texture cycle
    bottom: Colour
    shoes: Colour
    hair: Colour
    skin: Colour


@dataclass(frozen=True)
class Gait:
    """How a person walks; constant per identity, the pose at frame t follows from it."""

    freq: float  # stride cycles per frame
    phase: float  # cycles, in [0, 1)
    arm_swing: float  # shoulder swing amplitude, radians
    leg_swing: float  # hip swing amplitude, radians
    bounce: float  # extra vertical bounce amplitude, pixels


@dataclass(frozen=True)
class Identity:
    """One synthetic person; `twin_of` is the pid sharing its appearance, if any."""

    pid: int
    appearance: Appearance
    gait: Gait
    twin_of: int | None


def _hsv(h: float, s: float, v: float) -> Colour:
    """An RGB uint8 colour from HSV in [0, 1]."""
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return (round(r * 255), round(g * 255), round(b * 255))


def _garment(rng: np.random.Generator, dark: bool) -> Colour:
    """A clothing colour; bottoms tend to be darker, like trousers in CCTV footage."""
    value = rng.uniform(0.15, 0.6) if dark else rng.uniform(0.3, 0.95)
    return _hsv(rng.random(), rng.uniform(0.0, 0.9), value)


def sample_appearance(rng: np.random.Generator) -> Appearance:
    """Draw a random appearance."""
    hair_choices = [_hsv(0.08, 0.6, 0.15), _hsv(0.07, 0.7, 0.35), _hsv(0.12, 0.5, 0.8),
                    _hsv(0.0, 0.0, 0.6), _hsv(0.0, 0.0, 0.05)]
    skin_choices = [_hsv(0.07, 0.35, 0.95), _hsv(0.07, 0.5, 0.75), _hsv(0.06, 0.6, 0.45)]
    return Appearance(
        height=float(rng.uniform(92.0, 108.0)),
        build=float(rng.uniform(0.85, 1.2)),
        top=_garment(rng, dark=False),
        top2=_garment(rng, dark=False),
        texture=TEXTURES[int(rng.integers(len(TEXTURES)))],
        texture_period=int(rng.integers(4, 10)),
        bottom=_garment(rng, dark=True),
        shoes=_hsv(rng.random(), rng.uniform(0.0, 0.4), rng.uniform(0.05, 0.5)),
        hair=hair_choices[int(rng.integers(len(hair_choices)))],
        skin=skin_choices[int(rng.integers(len(skin_choices)))],
    )


def sample_gait(rng: np.random.Generator, band: str = "any") -> Gait:
    """Draw a gait from `band` ("any", "slow" or "fast")."""
    limits = GAIT_BANDS[band]
    return Gait(
        freq=float(rng.uniform(*limits["freq"])),
        phase=float(rng.random()),
        arm_swing=float(rng.uniform(*limits["arm_swing"])),
        leg_swing=float(rng.uniform(*limits["leg_swing"])),
        bounce=float(rng.uniform(0.3, 1.5)),
    )


def is_twin_pair(pair: int, twin_fraction: float) -> bool:
    """Whether pair `pair` (pids 2*pair+1, 2*pair+2) are twins.

    Evenly spread (Bresenham) so that the first k pairs hold floor(k * twin_fraction) twin pairs
    whatever the total number of identities: adding identities never changes earlier ones.
    """
    return int((pair + 1) * twin_fraction + 1e-9) > int(pair * twin_fraction + 1e-9)


def make_identity(pid: int, n_ids: int, seed: int, twin_fraction: float) -> Identity:
    """Identity `pid` (1-based); twins take the appearance stream of the first pid of their pair."""
    pair, second = divmod(pid - 1, 2)
    partner = pid - 1 if second else pid + 1
    twins = partner <= n_ids and is_twin_pair(pair, twin_fraction)
    look = sample_appearance(np.random.default_rng([seed, 1, 2 * pair + 1 if twins else pid]))
    band = "any"
    if twins:
        slow_first = np.random.default_rng([seed, 4, pair]).random() < 0.5
        band = "slow" if bool(second) != slow_first else "fast"
    gait = sample_gait(np.random.default_rng([seed, 2, pid]), band)
    return Identity(pid, look, gait, partner if twins else None)


def build_identities(n_ids: int, seed: int, twin_fraction: float) -> list[Identity]:
    """Identities with pids 1..n_ids; each pid has its own random streams, keyed by the seed."""
    return [make_identity(pid, n_ids, seed, twin_fraction) for pid in range(1, n_ids + 1)]
