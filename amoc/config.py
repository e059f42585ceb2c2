"""Frozen run configurations (training, evaluation, motion pre-training), validated once at the edge.

Each dataclass is built with ``from_dict`` from a plain mapping (YAML/JSON); an unknown key or a
value out of range raises ``ConfigError`` naming the key and the allowed values. Library
functions never receive these objects: the CLIs unpack them into explicit keyword arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Self, TypeVar

from amoc.errors import ConfigError

Rule = Callable[[str, Any], Any]
T = TypeVar("T")


def _fail(key: str, value: Any, allowed: str) -> ConfigError:
    return ConfigError(f"config key {key!r} = {value!r} is invalid: allowed {allowed}")


def choice(*options: str) -> Rule:
    """Rule: the value must be one of ``options``."""

    def rule(key: str, value: Any) -> Any:
        if value not in options:
            raise _fail(key, value, "one of " + ", ".join(repr(o) for o in options))
        return value

    return rule


def number(lo: float, hi: float = float("inf"), *, integer: bool = False,
           lo_open: bool = False) -> Rule:
    """Rule: a number (an int if ``integer``) in [lo, hi] (or (lo, hi] if ``lo_open``)."""
    kind = "an integer" if integer else "a number"
    span = f"{'(' if lo_open else '['}{lo}, {hi}]"

    def rule(key: str, value: Any) -> Any:
        types = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, types):
            raise _fail(key, value, f"{kind} in {span}")
        if value > hi or value < lo or (lo_open and value == lo):
            raise _fail(key, value, f"{kind} in {span}")
        return value if integer else float(value)

    return rule


def boolean(key: str, value: Any) -> bool:
    """Rule: true or false (no truthy strings or ints)."""
    if not isinstance(value, bool):
        raise _fail(key, value, "true or false")
    return value


def int_list(lo: int) -> Rule:
    """Rule: a non-empty list of distinct integers >= lo, returned sorted as a tuple."""

    def rule(key: str, value: Any) -> Any:
        ok = isinstance(value, list | tuple) and len(value) > 0 and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= lo for v in value)
        if not ok or len(set(value)) != len(value):
            raise _fail(key, value, f"a non-empty list of distinct integers >= {lo}")
        return tuple(sorted(value))

    return rule


def _rule(default: Any, rule: Rule) -> Any:
    return field(default=default, metadata={"rule": rule})


def build(cls: type[T], values: Mapping[str, Any] | None) -> T:
    """Validate ``values`` against ``cls``'s field rules and build the frozen config.

    Args:
        cls: one of the config dataclasses below.
        values: user mapping; missing keys take the defaults.

    Returns:
        The frozen config.

    Raises:
        ConfigError: an unknown key (listing the valid ones) or an out-of-range value.
    """
    values = dict(values or {})
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} key(s) {unknown}; valid: {sorted(known)}")
    checked = {k: known[k].metadata["rule"](f"{cls.__name__}.{k}", v) for k, v in values.items()}
    return cls(**checked)


class _Config:
    """Shared helpers: ``from_dict`` and a JSON-ready ``to_dict``."""

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> Self:
        """Build and validate from a plain mapping (see ``build``)."""
        return build(cls, values)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


DEVICE = choice("auto", "cpu", "cuda")


@dataclass(frozen=True)
class TrainConfig(_Config):
    """End-to-end Siamese training (Sec. III-D, IV-B; baseline protocol where the paper is silent).

    ``mode`` "paper" is one pair per step (epoch = 2N steps alternating positive/negative);
    "batched" puts ``batch_pairs`` pairs in one step. ``short_seqs`` "skip" drops training
    sequences shorter than ``seq_len`` (baseline); "pad" repeats their last frame.
    ``amp`` (bf16 autocast) and ``channels_last`` apply on CUDA only.
    """

    mode: str = _rule("paper", choice("paper", "batched"))
    epochs: int = _rule(1000, number(1, 100_000, integer=True))
    lr: float = _rule(1e-3, number(0, 10, lo_open=True))
    optimizer: str = _rule("sgd", choice("sgd", "adam"))
    momentum: float = _rule(0.9, number(0, 0.999))
    grad_clip: float = _rule(5.0, number(0, 1e6))
    batch_pairs: int = _rule(32, number(1, 4096, integer=True))
    seq_len: int = _rule(16, number(2, 1024, integer=True))
    margin: float = _rule(2.0, number(0, 1e3, lo_open=True))
    translate: float = _rule(0.05, number(0, 0.25))
    flip: bool = _rule(True, boolean)
    short_seqs: str = _rule("skip", choice("skip", "pad"))
    checkpoint_every: int = _rule(10, number(1, 100_000, integer=True))
    seed: int = _rule(0, number(0, 2**31 - 1, integer=True))
    device: str = _rule("auto", DEVICE)
    amp: bool = _rule(True, boolean)
    channels_last: bool = _rule(True, boolean)
    compile: bool = _rule(False, boolean)

    @property
    def pairs_per_step(self) -> int:
        """1 in paper mode, ``batch_pairs`` in batched mode."""
        return 1 if self.mode == "paper" else self.batch_pairs


@dataclass(frozen=True)
class EvalConfig(_Config):
    """Test protocol: sequence lengths, test-time augmentation and the ranking protocol.

    ``tta`` "crops8_flip" = 8 translations along the diagonal x 2 flips (baseline); ``translate``
    is the largest crop offset as a fraction of w and h. ``probe_frames``/``gallery_frames``
    choose which end of a long sequence is used (baseline: first N for probes, last N for gallery).
    """

    test_lengths: tuple[int, ...] = _rule((128,), int_list(1))
    tta: str = _rule("crops8_flip", choice("none", "flip", "crops8_flip"))
    translate: float = _rule(0.05, number(0, 0.25))
    protocol: str = _rule("official", choice("official", "torchreid"))
    batch_size: int = _rule(32, number(1, 4096, integer=True))
    probe_frames: str = _rule("first", choice("first", "last"))
    gallery_frames: str = _rule("last", choice("first", "last"))
    device: str = _rule("auto", DEVICE)


@dataclass(frozen=True)
class PretrainConfig(_Config):
    """Motion-net pre-training on offline flow (Sec. III-D1): Adam, lr halved on a schedule.

    ``heldout_tracklets`` tracklets are kept out of training to report EPE against zero flow.
    ``translate``/``flip`` augment each pair and its target flow consistently (as in training).
    """

    iterations: int = _rule(60_000, number(1, 10_000_000, integer=True))
    batch_pairs: int = _rule(4, number(1, 4096, integer=True))
    lr: float = _rule(1e-4, number(0, 1, lo_open=True))
    halve_after: int = _rule(20_000, number(0, 10_000_000, integer=True))
    halve_every: int = _rule(10_000, number(1, 10_000_000, integer=True))
    translate: float = _rule(0.05, number(0, 0.25))
    flip: bool = _rule(True, boolean)
    heldout_tracklets: int = _rule(8, number(1, 100_000, integer=True))
    checkpoint_every: int = _rule(1000, number(1, 10_000_000, integer=True))
    seed: int = _rule(0, number(0, 2**31 - 1, integer=True))
    device: str = _rule("auto", DEVICE)
