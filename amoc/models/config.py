"""``ModelConfig``: every choice that changes the model, validated once where it is built.

Torch-free (like ``amoc.variants``), so the workflow validates and hashes every model cell of
the experiment matrix when it builds the DAG without loading torch. The names of the fusion
methods, fusion points and poolings live here; the registries that implement them
(``amoc.models.fusion``, ``amoc.models.temporal``) are keyed by the same names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from amoc.config import (
    IntList,
    Optional,
    RunConfig,
    boolean,
    build,
    check_fields,
    choice,
    number,
    rule_field,
)
from amoc.errors import ConfigError
from amoc.variants import VARIANTS

PAPER_MOTION_WIDTH = 1.0
DEFAULT_MOTION_WIDTH = 0.25
FUSION_NAMES: tuple[str, ...] = ("concat", "sum", "max")
STAGE_NAMES: tuple[str, ...] = ("tanh1", "pool1", "tanh2", "pool2", "tanh3", "pool3", "fc")
POOLING_NAMES: tuple[str, ...] = ("avg", "max")
COLOURS: tuple[str, ...] = ("rgb", "yuv")
# Fusions that commute with max-pooling: fusing at tanhN then pooling is the same function, with
# the same parameters and initialisation, as pooling each stream then fusing at poolN (channel
# concatenation and the element-wise maximum both commute with a per-channel window maximum;
# a sum does not). Such a cell is trained once, under its pool name.
POOL_COMMUTING_FUSIONS: tuple[str, ...] = ("concat", "max")
SPATIAL_STRIDES = number(1, 2, integer=True)
PROBABILITY = number(0, 1, hi_open=True)


@dataclass(frozen=True, kw_only=True)
class ModelConfig(RunConfig):
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
        spatial_stride: stride of the spatial networks' convolutions (1 or 2); None = the
            variant's own (amoc.variants: 2 for AMOC as Sec. III-B2 says, 1 for the rcn baseline).
        colour: colour space of the frames every stream sees, "rgb" or "yuv"; None = the
            variant's own ("rgb" for AMOC, Sec. III-B2; "yuv" for the rcn baseline).
        dropout: before the spatial FC layer (baseline 0.6).
        recurrent_dropout: on r(t-1) (baseline-style; 0 = the paper's Eq. 4).
        recurrence: False drops N r(t-1) from Eq. 4 (o(t) = M f(t)): temporal pooling of
            per-frame features, the ablation that asks what the RNN adds.
    """

    num_classes: int = field(metadata={"rule": number(1, 10_000_000, integer=True)})
    variant: str = rule_field("amoc", choice(*VARIANTS))
    fusion: str = rule_field("concat", choice(*FUSION_NAMES))
    fusion_layer: str = rule_field("pool2", choice(*STAGE_NAMES))
    pooling: str = rule_field("avg", choice(*POOLING_NAMES))
    embedding: int = rule_field(128, number(8, 4096, integer=True))
    fc_dim: int = rule_field(128, number(1, 4096, integer=True))
    motion_width: float = rule_field(DEFAULT_MOTION_WIDTH, number(0, 4, lo_open=True))
    spatial_filters: tuple[int, int, int] = rule_field((16, 32, 32), IntList(1, 1024, length=3))
    spatial_stride: int | None = rule_field(None, Optional(SPATIAL_STRIDES))
    colour: str | None = rule_field(None, Optional(choice(*COLOURS)))
    dropout: float = rule_field(0.6, PROBABILITY)
    recurrent_dropout: float = rule_field(0.0, PROBABILITY)
    recurrence: bool = rule_field(True, boolean)

    def __post_init__(self) -> None:
        check_fields(self)
        spec = VARIANTS[self.variant]
        if self.spatial_stride is None:
            object.__setattr__(self, "spatial_stride", spec.spatial_stride)
        if self.colour is None:
            object.__setattr__(self, "colour", spec.colour)

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> ModelConfig:
        """Build from a plain mapping (YAML, JSON, a checkpoint); lists become tuples.

        Raises:
            ConfigError: for an unknown key, a missing num_classes or an invalid value.
        """
        if "num_classes" not in (values or {}):
            raise ConfigError("ModelConfig.num_classes is required (number of training ids)")
        return build(cls, values)


def canonical_fusion(model: dict[str, Any]) -> dict[str, Any]:
    """The same model with a tanhN fusion point renamed poolN where both are one function.

    See POOL_COMMUTING_FUSIONS; other values are returned unchanged (a copy).
    """
    out = dict(model)
    layer = out.get("fusion_layer", "")
    if out.get("fusion") in POOL_COMMUTING_FUSIONS and layer.startswith("tanh"):
        out["fusion_layer"] = "pool" + layer.removeprefix("tanh")
    return out
