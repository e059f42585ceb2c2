"""The AMOC spatial network (Sec. III-B2, Fig. 3), built so it can be cut at any fusion point.

From the paper: 3 convolutions, each followed by tanh and a max-pooling layer, then one fully
connected layer; the same structure in both streams (RGB frame, and flow Pred3), with inputs of
64 x 32 so that every layer of the two streams has the same resolution.

* Strides: "All the strides in the convolutional layers and pooling layers are set as 2"
  (Sec. III-B2). ``stride=2`` (the AMOC variants' default, amoc.variants) does that: the maps
  are 34x18, 17x9, 11x7, 5x3, 5x4, 2x2 at tanh1..pool3 and the FC layer reads 32 x 2 x 2 = 128
  values. ``stride=1`` is the baseline's (McLaughlin et al., CVPR 2016, and the ``rcn``
  default): 68x36, 34x18, 38x22, 19x11, 23x15, 11x7 and an FC input of 2,464.
* Everything else the paper leaves open follows that baseline: zero-padding 4 then a 5x5
  convolution, max-pooling 2x2 stride 2, 16/32/32 filters, flatten, dropout 0.6, a linear layer
  to ``fc_dim`` (128). The fully connected output is linear: it is the f(t) fed to the RNN (Eq. 4).

The network is a sequence of seven stages whose outputs are the seven fusion points of Table II:
tanh1, pool1, tanh2, pool2, tanh3, pool3, fc (conv -> tanh -> pool order, so "tanh1" is the output
of conv1 + tanh and "pool1" that of the following pooling). ``SpatialNet(start=a, stop=b)`` holds
stages a..b-1 only, so a two-stream model is two ``SpatialNet(0, k + 1)`` plus one shared
``SpatialNet(k + 1, 7)``.
"""

from __future__ import annotations

import torch
from torch import nn

from amoc.models.config import STAGE_NAMES

CONV_PADDING = 4
CONV_KERNEL = 5
SPATIAL_INPUT_HW = (64, 32)


def conv_out(size: int, stride: int) -> int:
    """Rows (or columns) after one padded 5x5 convolution at ``stride``."""
    return (size + 2 * CONV_PADDING - CONV_KERNEL) // stride + 1


class SpatialNet(nn.Module):
    """Stages ``start .. stop - 1`` of the spatial network of Fig. 3.

    Args:
        in_channels: channels of the full network's input (3 RGB/YUV, 2 flow, 5 YUV + flow);
            only used when ``start == 0``.
        filters: filters of conv1, conv2, conv3.
        fc_dim: output size of the fully connected layer (f(t) in Eq. 4).
        dropout: dropout probability before the fully connected layer.
        input_hw: (H, W) of the full network's input, to size the fully connected layer.
        start: first stage held (index into STAGE_NAMES).
        stop: one past the last stage held.
        widen: factor on the channels entering stage ``start`` (2 after concatenation fusion);
            it reaches the next layer with weights (a pooling stage passes it on).
        stride: stride of the three convolutions (2: the paper's text; 1: the baseline).
    """

    def __init__(
        self,
        in_channels: int,
        filters: tuple[int, int, int] = (16, 32, 32),
        fc_dim: int = 128,
        dropout: float = 0.6,
        input_hw: tuple[int, int] = SPATIAL_INPUT_HW,
        start: int = 0,
        stop: int = len(STAGE_NAMES),
        widen: int = 1,
        stride: int = 2,
    ) -> None:
        super().__init__()
        if not 0 <= start <= stop <= len(STAGE_NAMES):
            raise ValueError(f"need 0 <= start <= stop <= 7, got start={start}, stop={stop}")
        channels, (h, w) = in_channels, input_hw
        stages: list[nn.Module] = []
        for index in range(stop):
            if index == start:
                channels *= widen
            if index == len(STAGE_NAMES) - 1:
                stage = nn.Sequential(
                    nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels * h * w, fc_dim)
                )
                channels = fc_dim
            elif index % 2 == 0:
                out = filters[index // 2]
                stage = nn.Sequential(
                    nn.Conv2d(channels, out, CONV_KERNEL, stride, CONV_PADDING), nn.Tanh()
                )
                channels, h, w = out, conv_out(h, stride), conv_out(w, stride)
            else:
                stage = nn.MaxPool2d(2, 2)
                h, w = h // 2, w // 2
            if index >= start:
                stages.append(stage)
        self.stages = nn.Sequential(*stages)
        self.out_channels = channels * widen if start == stop else channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the held stages.

        Shape:
            x: (N, C, H, W) for an image-like fusion point, (N, D) after "fc".
            Returns the output of stage ``stop - 1``: (N, C', H', W') or (N, fc_dim).
        """
        return self.stages(x)
