"""Per-sequence data augmentation (Sec. III-D3): 2D translation + horizontal flip, on the device.

One draw per sequence is applied to all its frames and, consistently, to its offline flow, over
the whole batch at once (no per-frame Python):

* Translation: integer pixels (dy, dx) drawn within +-5% of h and w; the image content moves by
  (dy, dx) and the uncovered border replicates the edge pixels (``padding_mode="border"``), so no
  artificial black edges appear that the motion stream could mistake for structure.
* Frames: an integer shift copies pixels, so they are gathered by index (exactly what nearest
  ``grid_sample`` of the same transform gives, at a fraction of its cost on CPU). The flow, on
  the half-size grid, is ``grid_sample``d bilinearly with the same transform (a 1-pixel frame
  shift is half a flow pixel), one sampling grid per sequence shared by its time steps.
  Translation does not change displacements, so flow values are kept.
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


def source_index(size: int, shift: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """(S, size): the input pixel each output pixel copies along one axis.

    The content is mirrored where ``flip``, then moved by ``shift`` pixels; outside the frame
    the edge pixel repeats (``grid_sample``'s border padding).
    """
    out = torch.arange(size, device=shift.device)[None, :]
    shift = shift[:, None].long()
    src = torch.where(flip[:, None], size - 1 - out + shift, out - shift)
    return src.clamp_(0, size - 1)


def _shift_frames(x: torch.Tensor, shifts: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
    """Integer translation (and mirror) of every frame of each sequence, by index gathering."""
    rows = source_index(x.shape[-2], shifts[:, 0], torch.zeros_like(flips))
    cols = source_index(x.shape[-1], shifts[:, 1], flips)
    x = x.gather(-2, rows[:, None, None, :, None].expand_as(x))
    return x.gather(-1, cols[:, None, None, None, :].expand_as(x))


def _warp_flow(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Bilinear resampling by one theta per sequence at every time step. Shape: x (S, T, C, H, W)."""
    s, t, c, h, w = x.shape
    grid = F.affine_grid(theta, [s, c, h, w], align_corners=False).repeat_interleave(t, dim=0)
    out = F.grid_sample(x.flatten(0, 1), grid, mode="bilinear", padding_mode="border",
                        align_corners=False)
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
    shifts, flips = shifts.to(frames.device), flips.to(frames.device).bool()
    frames = _shift_frames(frames, shifts, flips)
    if flow is not None:
        theta = affine_thetas(shifts, flips, (frames.shape[-2], frames.shape[-1]))
        flow = _warp_flow(flow, theta)
        sign = 1.0 - 2.0 * flips.to(flow.device).float()  # (S,)
        flow = torch.cat([flow[:, :, :1] * sign[:, None, None, None, None], flow[:, :, 1:]], dim=2)
    return frames, flow
