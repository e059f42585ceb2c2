"""Clip gathering: rows of the frame cache (and flow store) -> batched tensors for the model.

A clip of T frames is read as T cache rows; a sequence shorter than T (padded training sequence,
or a one-frame test sequence) repeats its last frame, and the flow of a repeated step is zero
(no motion between identical frames). Flow row i of the store is the flow from frame i to i + 1
of the same tracklet, so the T - 1 flow rows of a clip are its first T - 1 frame rows.
"""

from __future__ import annotations

import numpy as np
import torch


def clip_rows(offsets: np.ndarray, starts: np.ndarray, used: np.ndarray, length: int) -> np.ndarray:
    """Cache rows of S clips of ``length`` frames; steps past ``used`` repeat the last frame.

    Args:
        offsets: first cache row of each sequence.
        starts: first frame of each clip within its sequence.
        used: real frames in each clip (1..length); the rest repeat frame ``used - 1``.
        length: T.

    Returns:
        int64 rows, shape (S, T).
    """
    steps = np.minimum(np.arange(length)[None, :], np.asarray(used)[:, None] - 1)  # (S, T)
    return (np.asarray(offsets) + np.asarray(starts))[:, None] + steps


def gather_clips(frames: np.ndarray, rows: np.ndarray, device: torch.device) -> torch.Tensor:
    """Read clip frames from the cache and move them, still uint8, to ``device``.

    Shape:
        frames (N, H, W, 3) uint8 memmap; rows (S, T) -> (S, T, H, W, 3) uint8.
    """
    flat = np.ascontiguousarray(frames[rows.reshape(-1)])  # (S*T, H, W, 3)
    return torch.from_numpy(flat).to(device, non_blocking=True).unflatten(0, rows.shape)


def gather_flow(flow: np.ndarray, rows: np.ndarray, device: torch.device) -> torch.Tensor:
    """Offline flow of each clip step, zero where a frame repeats, channels first, float32.

    Shape:
        flow (N, h, w, 2) float16 memmap; rows (S, T) -> (S, T - 1, 2, h, w) float32.
    """
    steps = rows[:, :-1]  # (S, T-1): flow from frame rows[t] to rows[t] + 1
    moving = torch.from_numpy(rows[:, 1:] != rows[:, :-1]).to(device)  # (S, T-1)
    flat = np.ascontiguousarray(flow[steps.reshape(-1)])  # (S*(T-1), h, w, 2)
    out = torch.from_numpy(flat).to(device, non_blocking=True).float()
    out = out.unflatten(0, steps.shape).permute(0, 1, 4, 2, 3)  # (S, T-1, 2, h, w)
    return out * moving[:, :, None, None, None]


def to_unit_float(clips: torch.Tensor) -> torch.Tensor:
    """uint8 channels-last clips -> float in [0, 1], the model's layout.

    Shape:
        (S, T, H, W, 3) uint8 -> (S, T, 3, H, W) float32.
    """
    return clips.permute(0, 1, 4, 2, 3).float().div_(255.0)
