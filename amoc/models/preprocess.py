"""Non-learned input preparation (Sec. III-D2): colour space, normalisation, the two input scales.

Decisions:

* Colour (``colour``): "The inputs of the network (yellow boxes in Fig. 1) are raw RGB images
  when serves as a spatial feature extractor" (Sec. III-B2), so the AMOC variants read "rgb";
  the baseline's code converts to BT.601 analogue YUV (Y = 0.299 R + 0.587 G + 0.114 B, U, V),
  the ``rcn`` default "yuv". One colour space serves every stream of a model, the motion net's
  frame pair included (and its pre-training, so it sees what it will see inside AMOC).
* Normalisation (both colour spaces): per frame and per channel standardisation (zero mean, unit variance over the
  128 x 64 pixels; eps keeps flat channels finite). It needs no dataset statistics, so the model
  is self-contained and identical at train and test time, and it removes per-camera brightness.
* Scales: every frame is normalised at 128 x 64 (motion-net input); the RGB stream takes the first
  frame of each pair area-downsampled (2x2 mean) to 64 x 32, the Pred3 grid, so its mean stays
  0 and its standard deviation is slightly below 1.
* Arithmetic is element-wise (no matmul), so it stays float32 under bf16 autocast: YUV is three
  weighted sums of the R, G, B planes ("rgb" is left as it is), and the variance is the two-pass
  mean of squared deviations (3x faster on CPU than ``Tensor.var``'s single-pass kernel).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

RGB_TO_YUV = (
    (0.299, 0.587, 0.114),
    (-0.14713, -0.28886, 0.436),
    (0.615, -0.51499, -0.10001),
)
NORM_EPS = 1e-5


def frame_pairs(frames: torch.Tensor) -> torch.Tensor:
    """Stack each frame with the next on channels: step t = (frame t, frame t + 1).

    Shape:
        frames (B, T, C, H, W) -> (B, T - 1, 2C, H, W).
    """
    return torch.cat([frames[:, :-1], frames[:, 1:]], dim=2)


def downsample_half(frames: torch.Tensor) -> torch.Tensor:
    """Area-resize to half height and width (2x2 mean).

    Shape:
        frames (B, T, C, H, W) -> (B, T, C, H/2, W/2).
    """
    return F.avg_pool2d(frames.flatten(0, 1), 2).unflatten(0, frames.shape[:2])


COLOUR_MATRICES = {"rgb": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)), "yuv": RGB_TO_YUV}


class Preprocess(nn.Module):
    """RGB in [0, 1] -> per-frame standardised RGB or YUV at the input resolution.

    Args:
        colour: "rgb" (the paper's text) or "yuv" (the baseline).
    """

    def __init__(self, colour: str) -> None:
        super().__init__()
        self.colour = colour
        self.matrix = COLOUR_MATRICES[colour]

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """Convert (the identity for "rgb") and normalise.

        Args:
            frames: float RGB in [0, 1].

        Shape:
            frames (B, T, 3, H, W) -> (B, T, 3, H, W).
        """
        x = frames.float()
        if self.colour != "rgb":
            r, g, b = x.unbind(dim=2)
            x = torch.stack([wr * r + wg * g + wb * b for wr, wg, wb in self.matrix], dim=2)
        centred = x - x.mean(dim=(-2, -1), keepdim=True)
        var = (centred * centred).mean(dim=(-2, -1), keepdim=True)
        return centred * torch.rsqrt(var + NORM_EPS)
