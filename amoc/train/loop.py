"""The one training loop: Siamese pairs -> multi-task loss (Eq. 11) -> clipped optimiser step.

"paper" mode is ``pairs_per_step=1`` (baseline: one pair per step, epoch = 2N steps alternating
positive and negative pairs); "batched" mode puts many pairs in one step. Both halves of every
pair go through the model in one forward call (Siamese weight sharing), and every loss term is a
mean over the pairs of the step, so a batched step's loss is the mean of its per-pair losses.

Loading a step is a host half (``gather_pairs``: numpy gathers of the uint8 clips) and a device
half (``to_device_pairs``: copy, convert, augment on the device). On CUDA the host half of the
next steps runs in a background thread into pinned memory while the current step runs, and the
copies are ``non_blocking``; on CPU it runs in line (the same batches, bit for bit).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Generator
from contextlib import closing, nullcontext
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from amoc.losses import MultiTaskLoss, multitask_loss
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

log = logging.getLogger(__name__)

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


def pair_loss(model: nn.Module, batch: PairBatch, margin: float) -> MultiTaskLoss:
    """Eq. 11 on a batch of pairs, every term a mean over the P pairs."""
    out = model(batch.frames, batch.flow)
    p = batch.labels.shape[0] // 2
    return multitask_loss(out.features[:p], out.features[p:], out.logits[:p], out.logits[p:],
                          batch.labels[:p], batch.labels[p:], margin)


def autocast_for(device: torch.device, amp: bool):
    """bf16 autocast on CUDA when ``amp``; a no-op context elsewhere (fp32 on CPU)."""
    if amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def optimizer_step(model: nn.Module, optimizer: torch.optim.Optimizer, batch: PairBatch,
                   margin: float, grad_clip: float, amp: bool) -> torch.Tensor:
    """Forward, backward, element-wise gradient clamp (baseline), update.

    Returns:
        Detached (3,) tensor: total, contrastive and identity (both sequences) loss of the step.
    """
    with autocast_for(batch.frames.device, amp):
        loss = pair_loss(model, batch, margin)
    optimizer.zero_grad(set_to_none=True)
    loss.total.backward()
    if grad_clip > 0:
        nn.utils.clip_grad_value_(model.parameters(), grad_clip)
    optimizer.step()
    return torch.stack([loss.total, loss.contrastive, loss.identity_a + loss.identity_b]).detach()


def synchronize(device: torch.device) -> None:
    """Wait for the GPU's queued work so wall-clock timings cover it (no-op off CUDA)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


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


def train_one_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, train: TrainSet,
                    plan: EpochPlan, frames: np.ndarray, flow: np.ndarray | None, *,
                    seq_len: int, pairs_per_step: int, margin: float, grad_clip: float,
                    device: torch.device, amp: bool = False, prefetch: bool | None = None,
                    desc: str = "train") -> dict:
    """One pass over the epoch's pairs, in plan order, ``pairs_per_step`` pairs per step.

    Args:
        model, optimizer: the (possibly compiled) model on ``device`` and its optimiser.
        train, plan: sequences and this epoch's draw (``sample_epoch``).
        frames, flow: frame cache and aligned flow store (None when the model takes no flow).
        seq_len, pairs_per_step, margin: T, pairs per step (1 = paper mode), Eq. 10's alpha.
        grad_clip: clamp every gradient element to +-grad_clip (baseline 5); 0 disables.
        device, amp, desc: where to run; bf16 autocast (CUDA only); progress-bar label.
        prefetch: gather the next steps in a thread (pinned on CUDA); None: on CUDA only.

    Returns:
        Epoch means per pair of loss / contrastive / identity, pairs, seconds, pairs_per_s and
        frame_pairs_per_s (time steps per second over both sequences of every pair).
    """
    model.train()
    started = time.perf_counter()
    sums = torch.zeros(3, device=device)  # total, contrastive, identity (pair-weighted)
    chunks = np.array_split(np.arange(len(plan)), range(pairs_per_step, len(plan), pairs_per_step))
    with closing(host_batches(train, plan, chunks, frames, flow, seq_len, device,
                              prefetch)) as batches:
        bar = tqdm(batches, desc=desc, total=len(chunks), unit="step", file=sys.stderr,
                   disable=not sys.stderr.isatty())
        for i, (host, chunk) in enumerate(zip(bar, chunks, strict=True)):
            batch = to_device_pairs(host, device)
            sums += optimizer_step(model, optimizer, batch, margin, grad_clip, amp) * len(chunk)
            if i % 20 == 0 and not bar.disable:
                _show_progress(bar, sums, chunk[-1] + 1, started)
    synchronize(device)
    seconds = time.perf_counter() - started
    total, contrastive, identity = (sums / len(plan)).tolist()
    return {"loss": total, "contrastive": contrastive, "identity": identity, "pairs": len(plan),
            "seconds": seconds, "pairs_per_s": len(plan) / seconds,
            "frame_pairs_per_s": 2 * len(plan) * (seq_len - 1) / seconds}


def _show_progress(bar: tqdm, sums: torch.Tensor, done: int, started: float) -> None:
    """Running mean loss and sequences per second on the progress bar (syncs the GPU)."""
    loss = sums[0].item() / done
    rate = 2 * done / (time.perf_counter() - started)
    bar.set_postfix(loss=f"{loss:.3f}", seq_s=f"{rate:.1f}")
