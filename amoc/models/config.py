"""``ModelConfig``: every choice that changes the model, validated once where it is built."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from amoc.errors import ConfigError
from amoc.models.fusion import FUSION_LAYERS, FUSION_METHODS
from amoc.models.temporal import POOLINGS
from amoc.variants import VARIANTS

PAPER_MOTION_WIDTH = 1.0
DEFAULT_MOTION_WIDTH = 0.25


def _choice(name: str, value: object, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ConfigError(
            f"ModelConfig.{name} = {value!r} is not valid; choose one of: {', '.join(valid)}"
        )


def _positive(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"ModelConfig.{name} = {value!r} must be a positive number")


def _probability(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise ConfigError(f"ModelConfig.{name} = {value!r} must be a probability in [0, 1)")


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """AMOC model family configuration (defaults = the paper's best setting, CPU motion width).

    Attributes:
        num_classes: training identities (softmax size, Eq. 8).
        variant: key of amoc.variants.VARIANTS.
        fusion: "concat", "sum" or "max" (Eq. 1-3); ignored by single-stream variants.
        fusion_layer: tanh1, pool1, tanh2, pool2, tanh3, pool3 or fc (Table II); ignored by
            single-stream variants. The paper's best: concat at pool2.
        pooling: temporal pooling "avg" (Eq. 6, paper default) or "max" (Eq. 7).
        embedding: RNN size q = feature dimension (paper 128; 64..1024 studied).
        fc_dim: spatial-network FC size, p (baseline 128).
        motion_width: motion-net filter multiplier (1.0 = paper/FlowNetS, 0.25 = CPU default).
        spatial_filters: conv1..conv3 filters of the spatial networks (baseline 16, 32, 32).
        dropout: before the spatial FC layer (baseline 0.6).
        recurrent_dropout: on r(t-1) (baseline-style; 0 = the paper's Eq. 4).
    """

    num_classes: int
    variant: str = "amoc"
    fusion: str = "concat"
    fusion_layer: str = "pool2"
    pooling: str = "avg"
    embedding: int = 128
    fc_dim: int = 128
    motion_width: float = DEFAULT_MOTION_WIDTH
    spatial_filters: tuple[int, int, int] = (16, 32, 32)
    dropout: float = 0.6
    recurrent_dropout: float = 0.0

    def __post_init__(self) -> None:
        _choice("variant", self.variant, tuple(VARIANTS))
        _choice("fusion", self.fusion, tuple(FUSION_METHODS))
        _choice("fusion_layer", self.fusion_layer, FUSION_LAYERS)
        _choice("pooling", self.pooling, tuple(POOLINGS))
        for name in ("num_classes", "embedding", "fc_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigError(f"ModelConfig.{name} = {value!r} must be an integer")
            _positive(name, value)
        _positive("motion_width", self.motion_width)
        filters = self.spatial_filters
        if not isinstance(filters, tuple) or len(filters) != 3:
            raise ConfigError(f"ModelConfig.spatial_filters = {filters!r} must be 3 integers")
        for value in filters:
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"ModelConfig.spatial_filters = {filters!r}: need positive ints")
        _probability("dropout", self.dropout)
        _probability("recurrent_dropout", self.recurrent_dropout)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelConfig:
        """Build from a plain mapping (YAML, JSON, a checkpoint); lists become tuples.

        Raises:
            ConfigError: for an unknown key or an invalid value.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"unknown ModelConfig key(s) {unknown}; valid keys: {', '.join(sorted(known))}"
            )
        if "num_classes" not in values:
            raise ConfigError("ModelConfig.num_classes is required (number of training ids)")
        converted = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        return cls(**converted)
