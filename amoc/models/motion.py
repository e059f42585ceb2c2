"""The AMOC motion network (Sec. III-B1, Fig. 2): a FlowNetS-style encoder-decoder on a frame pair.

The paper fixes: input = the two frames stacked on channels (h x w x 6); six convolutions named
Conv1, Conv1_1, Conv2, Conv2_1, Conv3, Conv3_1 with a tanh after each; no fully connected layer;
two refinement steps, each = deconvolution + concatenation with the matching contracting feature
map + the upsampled coarser prediction; predictions Pred1, Pred2, Pred3 at 1/8, 1/4, 1/2 of the
input size. Everything else is left open and chosen here:

* Strides: the text says "stride of 2 in six of them", which cannot give Pred1 at 1/8. Only
  Conv1, Conv2 and Conv3 use stride 2 (FlowNetS pairs each stride-2 conv with a stride-1 "_1").
* Widths and kernels: FlowNetS's scheme as in the only public port (Akimoto-Cris/Pytorch_AMOC):
  64, 64, 128, 128, 256, 256 filters with kernels 7, 3, 5, 3, 5, 3 and "same" padding, each width
  times ``width`` (1.0 = paper; the CPU default is narrower). Deconvolutions output the width of
  the contracting map they are concatenated with (FlowNetS), kernel 4, stride 2, padding 1.
* Non-linearities: tanh after every convolution and deconvolution ("a tanh non-linearity after
  each layer"); the flow predictions (3x3 convolutions to 2 channels) are linear, because flow is
  an unbounded regression target.
* Upsampling of a coarser prediction: a learned 4x4 stride-2 transposed convolution 2 -> 2 without
  bias (FlowNetS). All predictions are in pixels of the Pred3 grid (see amoc.losses.motion).
* Layer names follow FlowNetS, so weights map one to one: conv1, conv1_1, conv2, conv2_1, conv3,
  conv3_1 (each a Sequential of the convolution and its tanh), predict_flow1, deconv2,
  upsample_flow1, predict_flow2, deconv1, upsample_flow2, predict_flow3 (Pred1..Pred3).
* Initialisation (the paper states none; pre-training, Eq. 12-14, starts from it): every
  convolution and deconvolution followed by tanh is Xavier-uniform with tanh's gain (5/3), so
  the signal keeps its scale through the eight tanh layers, and its bias is drawn from
  U(-1, 1); the flow predictions start near zero (Xavier with gain 0.01, zero bias), so the
  untrained net predicts almost no motion yet every layer gets a gradient from the first step;
  each upsample_flow starts as bilinear 2x upsampling of its channel. PyTorch's default
  (Kaiming-uniform with a = sqrt(5), a variance gain of 1/3 per layer) shrinks the signal about
  30-fold over the contracting part.
  Why the biases: with zero biases the whole net is an odd function, net(-x) = -net(x)
  (tanh, convolutions and concatenation are all odd), while motion is even in the input (a
  contrast-inverted pair moves the same way). An odd net can only fit the odd part of the flow,
  which is about zero, so it sits at "no motion" until the data's small asymmetry (the frames
  are standardised to zero mean) has grown the biases: measured on synthwalk (width 0.125,
  Adam 1e-3, 8 pairs a step) a plateau of 250-750 steps, and one of four default pre-trainings
  never left it in 1,000 steps. Biases in U(-1, 1) put each tanh off its centre, where it has
  even terms, and every default pre-training leaves the plateau within 100-300 steps
  (docs/synthwalk.md).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

# (name, base filters, kernel, stride) of the contracting part, in order (Fig. 2).
CONTRACTING: tuple[tuple[str, int, int, int], ...] = (
    ("conv1", 64, 7, 2),
    ("conv1_1", 64, 3, 1),
    ("conv2", 128, 5, 2),
    ("conv2_1", 128, 3, 1),
    ("conv3", 256, 5, 2),
    ("conv3_1", 256, 3, 1),
)
PREDICTION_GAIN = 0.01  # predict_flow* start near zero flow (see the initialisation above)
TANH_BIAS_RANGE = 1.0  # biases before a tanh start in U(-1, 1): they break the net's oddness
INPUT_MULTIPLE = 8  # three stride-2 convolutions: height and width must be divisible by 8


class MotionOutput(NamedTuple):
    """Flow predictions (u = x, v = y), all in pixels of the Pred3 (1/2 input) grid.

    Shape: pred1 (N, 2, H/8, W/8), pred2 (N, 2, H/4, W/4), pred3 (N, 2, H/2, W/2).
    """

    pred1: torch.Tensor
    pred2: torch.Tensor
    pred3: torch.Tensor


def scaled_width(base: int, width: float) -> int:
    """Number of filters for a layer of ``base`` filters at width multiplier ``width`` (>= 1)."""
    return max(1, round(base * width))


def _conv_tanh(c_in: int, c_out: int, kernel: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2), nn.Tanh())


def _deconv_tanh(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.Tanh())


def _predict(c_in: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, 2, 3, 1, 1)


def _upsample_flow() -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(2, 2, 4, 2, 1, bias=False)


def _bilinear_kernel(size: int) -> torch.Tensor:
    """(size, size) weights of bilinear 2x upsampling by a stride-2 transposed convolution."""
    centre = (size - 1) / 2
    ramp = 1 - torch.abs(torch.arange(size, dtype=torch.float32) - centre) / (size / 2)
    return ramp[:, None] * ramp[None, :]


def _initialise(module: nn.Module) -> None:
    """The initialisation stated in the module docstring, applied layer by layer."""
    if isinstance(module, nn.ConvTranspose2d) and module.bias is None:  # upsample_flow
        with torch.no_grad():
            module.weight.zero_()
            for c in range(module.in_channels):
                module.weight[c, c] = _bilinear_kernel(module.kernel_size[0])
    elif isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
        if module.out_channels == 2:  # a flow prediction
            nn.init.xavier_uniform_(module.weight, gain=PREDICTION_GAIN)
            nn.init.zeros_(module.bias)
        else:
            nn.init.xavier_uniform_(module.weight, gain=nn.init.calculate_gain("tanh"))
            nn.init.uniform_(module.bias, -TANH_BIAS_RANGE, TANH_BIAS_RANGE)


class MotionNet(nn.Module):
    """Fully convolutional flow network: frame pair (N, 6, H, W) -> MotionOutput.

    Args:
        width: multiplier on the FlowNetS filter counts (1.0 = paper width).
        in_channels: channels of the stacked pair (6 = two 3-channel frames).
    """

    def __init__(self, width: float = 1.0, in_channels: int = 6) -> None:
        super().__init__()
        c_in = in_channels
        for name, base, kernel, stride in CONTRACTING:
            c_out = scaled_width(base, width)
            self.add_module(name, _conv_tanh(c_in, c_out, kernel, stride))
            c_in = c_out
        c1, c2, c3 = (scaled_width(b, width) for b in (64, 128, 256))
        self.predict_flow1 = _predict(c3)
        self.deconv2 = _deconv_tanh(c3, c2)
        self.upsample_flow1 = _upsample_flow()
        self.predict_flow2 = _predict(2 * c2 + 2)
        self.deconv1 = _deconv_tanh(2 * c2 + 2, c1)
        self.upsample_flow2 = _upsample_flow()
        self.predict_flow3 = _predict(2 * c1 + 2)
        self.apply(_initialise)

    def forward(self, pair: torch.Tensor) -> MotionOutput:
        """Predict flow from the first to the second frame of each pair.

        Args:
            pair: the two (normalised) frames stacked on channels, frame t first.

        Returns:
            MotionOutput with predictions at 1/8, 1/4 and 1/2 of the input size.

        Shape:
            pair (N, 6, H, W) with H, W divisible by 8.
        """
        if pair.shape[-2] % INPUT_MULTIPLE or pair.shape[-1] % INPUT_MULTIPLE:
            raise ValueError(f"MotionNet needs H and W divisible by 8, got {tuple(pair.shape)}")
        conv1_1 = self.conv1_1(self.conv1(pair))  # (N, c1, H/2, W/2)
        conv2_1 = self.conv2_1(self.conv2(conv1_1))  # (N, c2, H/4, W/4)
        conv3_1 = self.conv3_1(self.conv3(conv2_1))  # (N, c3, H/8, W/8)
        pred1 = self.predict_flow1(conv3_1)  # (N, 2, H/8, W/8)
        x = torch.cat([conv2_1, self.deconv2(conv3_1), self.upsample_flow1(pred1)], dim=1)
        pred2 = self.predict_flow2(x)  # (N, 2, H/4, W/4)
        x = torch.cat([conv1_1, self.deconv1(x), self.upsample_flow2(pred2)], dim=1)
        pred3 = self.predict_flow3(x)  # (N, 2, H/2, W/2)
        return MotionOutput(pred1, pred2, pred3)
