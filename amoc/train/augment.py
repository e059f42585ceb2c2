"""Per-sequence data augmentation (Sec. III-D3): 2D translation + horizontal flip, on the device.

One draw per sequence is applied to all its frames and, consistently, to its offline flow. Both
are one ``grid_sample`` over the whole batch (no per-frame Python):

* Translation: integer pixels (dy, dx) drawn within +-5% of h and w; the image content moves by
  (dy, dx) and the uncovered border replicates the edge pixels (``padding_mode="border"``), so no
  artificial black edges appear that the motion stream could mistake for structure.
* Frames use nearest sampling (integer shifts copy pixels exactly); the flow, on the half-size
  grid, uses bilinear sampling of the same geometric transform (a 1-pixel frame shift is half a
  flow pixel). Translation does not change displacements, so flow values are kept.
* Horizontal flip mirrors frames and flow and negates the flow's u (x) component.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def affine_thetas(shifts: torch.Tensor, flips: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """Sampling matrices mapping output to input coordinates for each sequence.

    Args:
        shifts: (dy, dx) content displacement in pixels of an (H, W) = ``hw`` frame.
        flips: True to mirror horizontally.
        hw: frame height and width the shifts are measured in.

    Returns:
        (S, 2, 3) float32 thetas in normalised coordinates (resolution independent).

    Shape:
        shifts (S, 2); flips (S,).
    """
    s = shifts.shape[0]
    sx = 1.0 - 2.0 * flips.float()  # (S,) -1 where flipped
    theta = torch.zeros(s, 2, 3, device=shifts.device)
    theta[:, 0, 0] = sx
    theta[:, 1, 1] = 1.0
    theta[:, 0, 2] = -2.0 * shifts[:, 1].float() / hw[1] * sx
    theta[:, 1, 2] = -2.0 * shifts[:, 0].float() / hw[0]
    return theta


def _warp(x: torch.Tensor, theta: torch.Tensor, mode: str) -> torch.Tensor:
    """Apply one theta per sequence to every time step. Shape: x (S, T, C, H, W)."""
    s, t = x.shape[:2]
    flat = x.flatten(0, 1)  # (S*T, C, H, W)
    grid = F.affine_grid(theta.repeat_interleave(t, dim=0), list(flat.shape), align_corners=False)
    out = F.grid_sample(flat, grid, mode=mode, padding_mode="border", align_corners=False)
    return out.unflatten(0, (s, t))


def augment(frames: torch.Tensor, shifts: torch.Tensor, flips: torch.Tensor,
            flow: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Translate and flip each sequence's frames (and flow) with its own parameters.

    Args:
        frames: float clips in [0, 1].
        shifts: integer (dy, dx) content shift per sequence, in frame pixels.
        flips: horizontal flip per sequence.
        flow: offline flow (u, v) on the half-size grid, or None.

    Returns:
        (frames, flow) with the same shapes; flow None if not given.

    Shape:
        frames (S, T, 3, H, W); shifts (S, 2); flips (S,); flow (S, T-1, 2, H/2, W/2).
    """
    hw = (frames.shape[-2], frames.shape[-1])
    theta = affine_thetas(shifts.to(frames.device), flips.to(frames.device), hw)
    frames = _warp(frames, theta, "nearest")
    if flow is not None:
        flow = _warp(flow, theta, "bilinear")
        sign = 1.0 - 2.0 * flips.to(flow.device).float()  # (S,)
        flow = torch.cat([flow[:, :, :1] * sign[:, None, None, None, None], flow[:, :, 1:]], dim=2)
    return frames, flow
