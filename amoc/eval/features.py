"""Sequence features for testing, with test-time augmentation: the same code for probe and gallery.

Decisions:

* Test length L means L frames (L - 1 frame pairs). A sequence shorter than L is used whole (the
  paper). Of a longer one, ``take="first"`` keeps its first L frames and ``take="last"`` its last
  L (the baseline: probe = first L, gallery = last L). Frames stay in numeric order.
* L = 1 (or a one-frame sequence): the frame is duplicated, giving one pair with zero motion
  (offline flow zero; the motion net sees two identical frames).
* TTA: "none" (1 copy), "flip" (2), "crops8_flip" (16 = 8 translations evenly spaced along the
  diagonal from (-dy, -dx) to (+dy, +dx), dy/dx = ``translate`` of h/w, each unflipped and
  flipped; the baseline's 8 diagonal crops x 2 flips). Augmentation is the training one
  (``amoc.train.augment``), so the flow follows the frames. Distances are computed per
  augmentation (probe copy a vs gallery copy a) and averaged (``tta_distmat``); the baseline
  sums them, which ranks identically.
* Sequences whose used length is equal are batched together (``batch_size`` per forward).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from amoc.eval.metrics import euclidean_distmat, mean_distmat
from amoc.train.augment import augment
from amoc.train.clips import to_unit_float

TTA_MODES = ("none", "flip", "crops8_flip")
N_CROPS = 8


def tta_params(tta: str, translate: float = 0.05,
               hw: tuple[int, int] = (128, 64)) -> tuple[torch.Tensor, torch.Tensor]:
    """Shifts (A, 2) as (dy, dx) pixels and flips (A,) of each test-time augmentation."""
    if tta not in TTA_MODES:
        raise ValueError(f"tta must be one of {TTA_MODES}, got {tta!r}")
    if tta == "crops8_flip":
        t = torch.linspace(-1.0, 1.0, N_CROPS)
        offsets = torch.stack([t * round(translate * hw[0]), t * round(translate * hw[1])], 1)
        offsets = offsets.round().long()  # (8, 2)
    else:
        offsets = torch.zeros(1, 2, dtype=torch.long)
    flips = [False] if tta == "none" else [False, True]
    shifts = offsets.repeat_interleave(len(flips), dim=0)  # (A, 2)
    return shifts, torch.tensor(flips * len(offsets))


def window(n_frames: int, length: int, take: str) -> tuple[int, int]:
    """(start, used): the first or last ``length`` frames, or all of a shorter sequence."""
    used = min(n_frames, length)
    return (0 if take == "first" else n_frames - used), used


def _stack_windows(sequences: Sequence[np.ndarray], flows: Sequence[np.ndarray] | None,
                   chunk: list[int], length: int, take: str) -> tuple[np.ndarray, np.ndarray | None]:
    """uint8 clips (S, T, H, W, 3) and flow (S, T-1, h, w, 2) of equal-length windows.

    A one-frame window is duplicated (T = 2) with zero flow.
    """
    spans = [window(len(sequences[i]), length, take) for i in chunk]
    clips = np.stack([sequences[i][s:s + u] for i, (s, u) in zip(chunk, spans, strict=True)])
    flow = None
    if flows is not None:
        flow = np.stack([flows[i][s:s + u - 1] for i, (s, u) in zip(chunk, spans, strict=True)])
    if clips.shape[1] == 1:
        clips = np.repeat(clips, 2, axis=1)
        if flow is not None:
            flow = np.zeros((len(chunk), 1, *flows[chunk[0]].shape[1:]), dtype=np.float32)
    return clips, flow


@torch.inference_mode()
def _encode(model: nn.Module, clips: np.ndarray, flow: np.ndarray | None, shifts: torch.Tensor,
            flips: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Features of every augmentation of a batch of clips. Returns (S, A, D) on the CPU."""
    frames = to_unit_float(torch.from_numpy(clips).to(device))  # (S, T, 3, H, W)
    flow_t = None
    if flow is not None:
        flow_t = torch.from_numpy(flow).to(device).float().permute(0, 1, 4, 2, 3)
    out = []
    for shift, flip in zip(shifts, flips, strict=True):
        s = len(clips)
        aug, aug_flow = augment(frames, shift.expand(s, 2), flip.expand(s), flow_t)
        out.append(model(aug, aug_flow).features.float().cpu())
    return torch.stack(out, dim=1)


def extract_features(model: nn.Module, sequences: Sequence[np.ndarray],
                     flow_sequences: Sequence[np.ndarray] | None = None, *, test_length: int,
                     tta: str = "none", device: torch.device | str = "cpu", take: str = "first",
                     translate: float = 0.05, batch_size: int = 16) -> torch.Tensor:
    """Encode each sequence's test window under every test-time augmentation.

    Args:
        model: trained model (put in eval mode here).
        sequences: uint8 frames of each tracklet, (n_i, H, W, 3) each, numeric order.
        flow_sequences: the tracklets' offline flow rows (n_i, H/2, W/2, 2), or None.
        test_length: L frames per sequence (fewer if the sequence is shorter).
        tta, translate: augmentation mode and crop range (see module docstring).
        device: where to run. take: "first" or "last" L frames. batch_size: sequences/forward.

    Returns:
        float32 CPU features, shape (n_seq, n_aug, D), in input order.
    """
    if test_length < 1:
        raise ValueError(f"test_length must be >= 1, got {test_length}")
    device = torch.device(device)
    model.eval()
    shifts, flips = tta_params(tta, translate, sequences[0].shape[1:3] if sequences else (128, 64))
    used = np.array([min(len(s), test_length) for s in sequences])
    result: list[torch.Tensor | None] = [None] * len(sequences)
    for length in np.unique(used):
        members = np.flatnonzero(used == length).tolist()
        for b in range(0, len(members), batch_size):
            chunk = members[b:b + batch_size]
            clips, flow = _stack_windows(sequences, flow_sequences, chunk, test_length, take)
            feats = _encode(model, clips, flow, shifts, flips, device)
            for i, f in zip(chunk, feats, strict=True):
                result[i] = f
    return torch.stack(result) if result else torch.empty(0, len(shifts), 0)


def tta_distmat(query: torch.Tensor, gallery: torch.Tensor) -> torch.Tensor:
    """Euclidean distances averaged over augmentations (copy a vs copy a).

    Shape:
        query (nq, A, D), gallery (ng, A, D) -> (nq, ng).
    """
    return mean_distmat([euclidean_distmat(query[:, a], gallery[:, a])
                         for a in range(query.shape[1])])
