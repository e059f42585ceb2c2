"""Frozen run configurations (training, evaluation, motion pre-training), validated once at the edge.

Each dataclass is built with ``from_dict`` from a plain mapping (YAML/JSON); an unknown key or a
value out of range raises ``ConfigError`` naming the key and the allowed values. Library
functions never receive these objects: the CLIs unpack them into explicit keyword arguments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Self, TypeVar

from amoc.errors import ConfigError

T = TypeVar("T")


def _fail(key: str, value: Any, allowed: str) -> ConfigError:
    return ConfigError(f"config key {key!r} = {value!r} is invalid: allowed {allowed}")


# Each rule checks one value and states itself as JSON schema, so tests can prove that
# config/config.schema.yaml (what `snakemake -n` checks) says exactly what the jobs accept.


@dataclass(frozen=True)
class Choice:
    """Rule: the value must be one of ``options``."""

    options: tuple[Any, ...]

    def __call__(self, key: str, value: Any) -> Any:
        if isinstance(value, bool) or value not in self.options:
            raise _fail(key, value, "one of " + ", ".join(repr(o) for o in self.options))
        return value

    def schema(self) -> dict[str, Any]:
        return {"enum": list(self.options)}


@dataclass(frozen=True)
class Number:
    """Rule: a number (an int if ``integer``) between ``lo`` and ``hi`` (ends open if told)."""

    lo: float
    hi: float = float("inf")
    integer: bool = False
    lo_open: bool = False
    hi_open: bool = False

    def __call__(self, key: str, value: Any) -> Any:
        kind = "an integer" if self.integer else "a number"
        span = f"{'(' if self.lo_open else '['}{self.lo}, {self.hi}{')' if self.hi_open else ']'}"
        types = (int,) if self.integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, types) or not (
                (self.lo < value if self.lo_open else self.lo <= value)
                and (value < self.hi if self.hi_open else value <= self.hi)):
            raise _fail(key, value, f"{kind} in {span}")
        return value if self.integer else float(value)

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "integer" if self.integer else "number"}
        out["exclusiveMinimum" if self.lo_open else "minimum"] = self.lo
        if self.hi != float("inf"):
            out["exclusiveMaximum" if self.hi_open else "maximum"] = self.hi
        return out


@dataclass(frozen=True)
class Boolean:
    """Rule: true or false (no truthy strings or ints)."""

    def __call__(self, key: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise _fail(key, value, "true or false")
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


@dataclass(frozen=True)
class IntList:
    """Rule: a list of integers in [lo, hi], returned as a tuple.

    ``length`` None: non-empty and distinct, returned sorted (a set of test lengths); an int:
    exactly that many, order kept (per-layer filters).
    """

    lo: int
    hi: int
    length: int | None = None

    def __call__(self, key: str, value: Any) -> tuple[int, ...]:
        ok = isinstance(value, list | tuple) and all(
            isinstance(v, int) and not isinstance(v, bool) and self.lo <= v <= self.hi
            for v in value)
        if self.length is None:
            ok = ok and len(value) > 0 and len(set(value)) == len(value)
            allowed = f"a non-empty list of distinct integers in [{self.lo}, {self.hi}]"
        else:
            ok = ok and len(value) == self.length
            allowed = f"a list of {self.length} integers in [{self.lo}, {self.hi}]"
        if not ok:
            raise _fail(key, value, allowed)
        return tuple(sorted(value)) if self.length is None else tuple(value)

    def schema(self) -> dict[str, Any]:
        items = {"type": "integer", "minimum": self.lo, "maximum": self.hi}
        if self.length is None:
            return {"type": "array", "items": items, "minItems": 1, "uniqueItems": True}
        return {"type": "array", "items": items, "minItems": self.length,
                "maxItems": self.length}


@dataclass(frozen=True)
class Optional:
    """Rule: null (the field's own fallback applies) or a value ``rule`` accepts."""

    rule: Any

    def __call__(self, key: str, value: Any) -> Any:
        return None if value is None else self.rule(key, value)

    def schema(self) -> dict[str, Any]:
        inner = self.rule.schema()
        if "enum" in inner:
            return {"enum": [*inner["enum"], None]}
        return {**inner, "type": [inner["type"], "null"]}


def choice(*options: Any) -> Choice:
    """Rule: the value must be one of ``options``."""
    return Choice(options)


def number(lo: float, hi: float = float("inf"), *, integer: bool = False,
           lo_open: bool = False, hi_open: bool = False) -> Number:
    """Rule: a number (an int if ``integer``) in [lo, hi]; ``lo_open``/``hi_open`` exclude ends."""
    return Number(lo, hi, integer, lo_open, hi_open)


boolean = Boolean()


def int_list(lo: int, hi: int = 1 << 20) -> IntList:
    """Rule: a non-empty list of distinct integers in [lo, hi], returned sorted as a tuple."""
    return IntList(lo, hi)


def rule_field(default: Any, rule: Any) -> Any:
    """A dataclass field with its validation rule (``schema_of`` reads it back)."""
    return field(default=default, metadata={"rule": rule})



def schema_of(cls: type) -> dict[str, dict[str, Any]]:
    """Every field's rule as a JSON-schema fragment (what config.schema.yaml must say)."""
    return {f.name: f.metadata["rule"].schema() for f in fields(cls) if "rule" in f.metadata}


def check_fields(obj: Any) -> None:
    """Run every field's rule on a (frozen) dataclass instance, storing normalised values."""
    for f in fields(obj):
        if "rule" in f.metadata:
            value = f.metadata["rule"](f"{type(obj).__name__}.{f.name}", getattr(obj, f.name))
            object.__setattr__(obj, f.name, value)


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
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} key(s) {unknown}; valid: {sorted(known)}")
    return cls(**values)


class RunConfig:
    """Shared helpers: validation on construction, ``from_dict`` and a JSON-ready ``to_dict``."""

    def __post_init__(self) -> None:
        check_fields(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> Self:
        """Build and validate from a plain mapping (see ``build``)."""
        return build(cls, values)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


DEVICE = choice("auto", "cpu", "cuda")


@dataclass(frozen=True)
class TrainConfig(RunConfig):
    """End-to-end Siamese training (Sec. III-D, IV-B; baseline protocol where the paper is silent).

    ``mode`` "paper" is one pair per step (epoch = 2N steps alternating positive/negative);
    "batched" puts ``batch_pairs`` pairs in one step. ``short_seqs`` "skip" drops training
    sequences shorter than ``seq_len`` (baseline); "pad" repeats their last frame.
    ``amp`` (bf16 autocast) applies on CUDA only. ``channels_last`` (NHWC convolutions) applies on
    every device: on one CPU core at the default's shape (8 pairs of 8-frame clips a step) it cuts
    a step of the end-to-end ``amoc`` by 25% and of ``rcn`` by 13%, and changes the other
    variants' by less than the run-to-run noise (measured 2026-12-02 with ``train_one_epoch`` on
    amoc.bench.train's synthetic data, 3 runs each; docs/synthwalk.md).

    ``pairs_per_epoch`` None: an epoch is 2N pairs (one positive, one negative per training
    identity, the baseline's definition). The paper's "epoch" cannot be that: it trains MARS for
    2000 epochs in about 1 day and iLIDS-VID for 1000 in about 45 h (Sec. IV-B), while 2N pairs
    on MARS (N = 625) is about 4x iLIDS-VID's (N = 150), so 2000 of them would take about 8x
    iLIDS-VID's time, not half. A fixed ``pairs_per_epoch`` (e.g. 300 on every dataset) gives
    every dataset epochs of the same cost instead.

    ``freeze_motion`` keeps a pre-trained motion net fixed (an ablation: end-to-end AMOC with
    its motion net not fine-tuned). ``milestones`` > 0 records the rank-1 of the split's test
    persons after that many log-spaced epochs, the last being ``epochs``
    (``amoc.train.milestones``): learning curves, never used to pick an epoch.
    """

    mode: str = rule_field("paper", choice("paper", "batched"))
    epochs: int = rule_field(1000, number(1, 100_000, integer=True))
    lr: float = rule_field(1e-3, number(0, 10, lo_open=True))
    optimizer: str = rule_field("sgd", choice("sgd", "adam"))
    momentum: float = rule_field(0.9, number(0, 1, hi_open=True))
    grad_clip: float = rule_field(5.0, number(0, 1e6))
    batch_pairs: int = rule_field(32, number(1, 4096, integer=True))
    seq_len: int = rule_field(16, number(2, 1024, integer=True))
    margin: float = rule_field(2.0, number(0, 1e3, lo_open=True))
    translate: float = rule_field(0.05, number(0, 0.25))
    flip: bool = rule_field(True, boolean)
    short_seqs: str = rule_field("skip", choice("skip", "pad"))
    checkpoint_every: int = rule_field(10, number(1, 100_000, integer=True))
    seed: int = rule_field(0, number(0, 2**31 - 1, integer=True))
    device: str = rule_field("auto", DEVICE)
    amp: bool = rule_field(True, boolean)
    channels_last: bool = rule_field(True, boolean)
    compile: bool = rule_field(False, boolean)
    pairs_per_epoch: int | None = rule_field(None, Optional(number(2, 10_000_000, integer=True)))
    freeze_motion: bool = rule_field(False, boolean)
    milestones: int = rule_field(0, number(0, 100, integer=True))

    @property
    def pairs_per_step(self) -> int:
        """1 in paper mode, ``batch_pairs`` in batched mode."""
        return 1 if self.mode == "paper" else self.batch_pairs


@dataclass(frozen=True)
class EvalConfig(RunConfig):
    """Test protocol: sequence lengths, test-time augmentation and the ranking protocol.

    ``tta`` "crops8_flip" = 8 translations along the diagonal x 2 flips (baseline); ``translate``
    is the largest crop offset as a fraction of w and h. ``probe_frames``/``gallery_frames``
    choose which end of a long sequence is used (baseline: first N for probes, last N for gallery).
    """

    test_lengths: tuple[int, ...] = rule_field((128,), int_list(1, 2048))
    tta: str = rule_field("crops8_flip", choice("none", "flip", "crops8_flip"))
    translate: float = rule_field(0.05, number(0, 0.25))
    protocol: str = rule_field("official", choice("official", "torchreid"))
    batch_size: int = rule_field(32, number(1, 4096, integer=True))
    probe_frames: str = rule_field("first", choice("first", "last"))
    gallery_frames: str = rule_field("last", choice("first", "last"))
    device: str = rule_field("auto", DEVICE)


@dataclass(frozen=True)
class PretrainConfig(RunConfig):
    """Motion-net pre-training on offline flow (Sec. III-D1): Adam, lr halved on a schedule.

    ``heldout_tracklets`` tracklets are kept out of training to report EPE against zero flow.
    ``translate``/``flip`` augment each pair and its target flow consistently (as in training).
    ``flow_scale`` is the unit of flow inside the loss: targets and predictions are multiplied by
    it before Eq. 12-13, whose smooth-L1 turns linear beyond 1 unit. The paper does not say in
    which unit its flow is; 1.0 (pixels of the Pred3 grid) is this code's reading of it. Since
    nearly every flow error on 64 x 32 frames is below 1 px, 1.0 makes the loss a squared error
    in practice; 10 (units of 0.1 px) makes it the absolute error the EPE measures
    (docs/synthwalk.md: at 1,000 steps 0.72x -> 0.68x zero flow's EPE on synthwalk).
    """

    iterations: int = rule_field(60_000, number(1, 10_000_000, integer=True))
    batch_pairs: int = rule_field(4, number(1, 4096, integer=True))
    lr: float = rule_field(1e-4, number(0, 1, lo_open=True))
    flow_scale: float = rule_field(1.0, number(0, 1e4, lo_open=True))
    halve_after: int = rule_field(20_000, number(0, 10_000_000, integer=True))
    halve_every: int = rule_field(10_000, number(1, 10_000_000, integer=True))
    translate: float = rule_field(0.05, number(0, 0.25))
    flip: bool = rule_field(True, boolean)
    heldout_tracklets: int = rule_field(8, number(1, 100_000, integer=True))
    checkpoint_every: int = rule_field(1000, number(1, 10_000_000, integer=True))
    seed: int = rule_field(0, number(0, 2**31 - 1, integer=True))
    device: str = rule_field("auto", DEVICE)
