"""Batch assembly for the training loop: the clips of a step's pairs, gathered and augmented.

Loading a step is a host half (``gather_pairs``: numpy gathers of the uint8 clips) and a device
half (``to_device_pairs``: copy, convert, augment on the device). On CUDA the host half of the
next steps runs in a background thread into pinned memory while the current step runs, and the
copies are ``non_blocking``; on CPU it runs in line (the same batches, bit for bit).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import numpy as np
import torch

from amoc.train.augment import augment
from amoc.train.clips import (
    clip_rows,
    flow_channels_first,
    host_tensor,
    moving_steps,
    prefetched,
    read_rows,
    to_unit_float,
)
from amoc.train.sampling import EpochPlan, TrainSet

PREFETCH_DEPTH = 2  # steps gathered ahead of the one running (pinned host memory each)


@dataclass(frozen=True)
class PairBatch:
    """Model-ready inputs of P pairs: first sequences 0..P-1, second sequences P..2P-1.

    Shape: frames (2P, T, 3, H, W) float in [0, 1]; flow (2P, T-1, 2, H/2, W/2) or None;
    labels (2P,) int64 identities 0..K-1.
    """

    frames: torch.Tensor
    flow: torch.Tensor | None
    labels: torch.Tensor


@dataclass(frozen=True)
class HostPairs:
    """One step's raw inputs on the host (pinned when bound for a GPU), before conversion.

    Shape: frames (2P, T, H, W, 3) uint8; flow (2P, T-1, H/2, W/2, 2) float16 or None; moving
    (2P, T-1) bool (False where a frame repeats); shifts (2P, 2) int64; flips (2P,) bool;
    labels (2P,) int64.
    """

    frames: torch.Tensor
    flow: torch.Tensor | None
    moving: torch.Tensor
    shifts: torch.Tensor
    flips: torch.Tensor
    labels: torch.Tensor


def gather_pairs(train: TrainSet, plan: EpochPlan, pairs: np.ndarray, frames: np.ndarray,
                 flow: np.ndarray | None, seq_len: int, pin: bool = False) -> HostPairs:
    """The host half of ``load_pairs``: numpy gathers only, no random numbers, thread-safe.

    Args:
        train, plan, pairs, frames, flow, seq_len: as in ``load_pairs``.
        pin: put every tensor in pinned memory (for ``non_blocking`` copies to a GPU).
    """
    seqs = plan.seqs[pairs].T.reshape(-1)  # (2P,) a-sequences then b-sequences
    starts = plan.starts[pairs].T.reshape(-1)
    used = np.minimum(train.n_frames[seqs], seq_len)
    rows = clip_rows(train.offsets[seqs], starts, used, seq_len)  # (2P, T)
    return HostPairs(
        frames=read_rows(frames, rows, pin),
        flow=read_rows(flow, rows[:, :-1], pin) if flow is not None else None,
        moving=host_tensor(moving_steps(rows), pin),
        shifts=host_tensor(plan.shifts[pairs].transpose(1, 0, 2).reshape(-1, 2), pin),
        flips=host_tensor(plan.flips[pairs].T.reshape(-1), pin),
        labels=host_tensor(train.labels[seqs], pin))


def to_device_pairs(host: HostPairs, device: torch.device) -> PairBatch:
    """The device half of ``load_pairs``: async copies, uint8 -> float, augmentation."""
    def move(x: torch.Tensor) -> torch.Tensor:
        return x.to(device, non_blocking=True)

    clips = to_unit_float(move(host.frames))
    clip_flow = None
    if host.flow is not None:
        clip_flow = flow_channels_first(move(host.flow), move(host.moving))
    clips, clip_flow = augment(clips, move(host.shifts), move(host.flips), clip_flow)
    return PairBatch(clips, clip_flow, move(host.labels))


def load_pairs(train: TrainSet, plan: EpochPlan, pairs: np.ndarray, frames: np.ndarray,
               flow: np.ndarray | None, seq_len: int, device: torch.device) -> PairBatch:
    """Gather, convert and augment the clips of the selected pairs, on ``device``.

    Args:
        train: the training sequences.
        plan: the epoch's draw (windows, shifts, flips).
        pairs: indices into the plan.
        frames: uint8 frame cache (N, H, W, 3).
        flow: aligned offline flow store (N, H/2, W/2, 2), or None if the model needs none.
        seq_len: T.
        device: where the tensors go (augmentation runs there).

    Returns:
        The PairBatch.
    """
    return to_device_pairs(gather_pairs(train, plan, pairs, frames, flow, seq_len), device)


def host_batches(train: TrainSet, plan: EpochPlan, chunks: list[np.ndarray], frames: np.ndarray,
                 flow: np.ndarray | None, seq_len: int, device: torch.device,
                 prefetch: bool | None) -> Generator[HostPairs, None, None]:
    """The epoch's steps gathered on the host; ``PREFETCH_DEPTH`` ahead when ``prefetch``.

    ``prefetch`` None means on CUDA only; the host tensors are pinned when prefetching for CUDA.
    The plan is drawn before the epoch and gathering draws no random numbers, so prefetching
    only moves the gathers: the batches are the same with or without it.
    """
    prefetch = device.type == "cuda" if prefetch is None else prefetch
    pin = prefetch and device.type == "cuda"

    def gather(chunk: np.ndarray) -> HostPairs:
        return gather_pairs(train, plan, chunk, frames, flow, seq_len, pin)

    return prefetched(gather, chunks, PREFETCH_DEPTH if prefetch else 0)
