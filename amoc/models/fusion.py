"""Spatial fusion of the two streams (Sec. III-C1, Eq. 1-3, Fig. 4).

Each stream (RGB frame, flow) has its own spatial-network layers up to and including the fusion
point; the two outputs are fused; ONE shared set of layers follows. Concatenation doubles the
channels entering the next layer with weights (or the RNN input, when fusing at "fc").

Eq. 1 interleaves the channels (y_2d = x^A_d, y_2d-1 = x^B_d); ``torch.cat`` stacks them instead.
The two differ by a fixed permutation of input channels, which the next layer's weights absorb
(its initialisation is permutation-symmetric), and ``cat`` keeps channels_last memory intact.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from amoc.models.config import STAGE_NAMES
from amoc.models.spatial import SpatialNet


def _concat(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.cat([a, b], dim=1)


# Registry: fusion name -> (function of the two maps, channel factor of the fused map).
FUSION_METHODS: dict[str, tuple[Callable[[torch.Tensor, torch.Tensor], torch.Tensor], int]] = {
    "concat": (_concat, 2),
    "sum": (torch.add, 1),
    "max": (torch.maximum, 1),
}
FUSION_LAYERS: tuple[str, ...] = STAGE_NAMES


class TwoStreamEncoder(nn.Module):
    """RGB stream + flow stream, fused at one point, then the shared trunk: f(t) for each step.

    Args:
        rgb_channels: channels of the appearance input (3: RGB or YUV).
        flow_channels: channels of the motion input (2: u, v).
        fusion: key of FUSION_METHODS.
        fusion_layer: key of FUSION_LAYERS (the last stage that each stream owns).
        filters: spatial-network conv filters.
        fc_dim: spatial-network FC size (per stream at "fc"; shared otherwise).
        dropout: dropout before the FC layer(s).
        stride: the spatial networks' conv stride (amoc.models.spatial).

    Attributes:
        out_dim: size of f(t), the RNN input (2 * fc_dim for concatenation at "fc").
    """

    def __init__(
        self,
        rgb_channels: int,
        flow_channels: int,
        fusion: str,
        fusion_layer: str,
        filters: tuple[int, int, int],
        fc_dim: int,
        dropout: float,
        stride: int,
    ) -> None:
        super().__init__()
        self.fuse, widen = FUSION_METHODS[fusion]
        split = FUSION_LAYERS.index(fusion_layer) + 1
        common = {"filters": filters, "fc_dim": fc_dim, "dropout": dropout, "stride": stride}
        self.rgb_stream = SpatialNet(rgb_channels, stop=split, **common)
        self.flow_stream = SpatialNet(flow_channels, stop=split, **common)
        self.trunk = SpatialNet(rgb_channels, start=split, widen=widen, **common)
        self.out_dim = self.trunk.out_channels

    def forward(self, rgb: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        """Fuse the two streams of N frame pairs into N feature vectors f(t).

        Shape:
            rgb (N, 3, 64, 32), flow (N, 2, 64, 32) -> (N, out_dim).
        """
        return self.trunk(self.fuse(self.rgb_stream(rgb), self.flow_stream(flow)))
