"""The one training loop: Siamese pairs -> multi-task loss (Eq. 11) -> clipped optimiser step.

"paper" mode is ``pairs_per_step=1`` (baseline: one pair per step, epoch = 2N steps alternating
positive and negative pairs); "batched" mode puts many pairs in one step. Both halves of every
pair go through the model in one forward call (Siamese weight sharing), and every loss term is a
mean over the pairs of the step, so a batched step's loss is the mean of its per-pair losses.
"""

from __future__ import annotations

import logging
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from amoc.losses import MultiTaskLoss, multitask_loss
from amoc.train.augment import augment
from amoc.train.clips import clip_rows, gather_clips, gather_flow, to_unit_float
from amoc.train.sampling import EpochPlan, TrainSet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PairBatch:
    """Model-ready inputs of P pairs: first sequences 0..P-1, second sequences P..2P-1.

    Shape: frames (2P, T, 3, H, W) float in [0, 1]; flow (2P, T-1, 2, H/2, W/2) or None;
    labels (2P,) int64 identities 0..K-1.
    """

    frames: torch.Tensor
    flow: torch.Tensor | None
    labels: torch.Tensor


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
    seqs = plan.seqs[pairs].T.reshape(-1)  # (2P,) a-sequences then b-sequences
    starts = plan.starts[pairs].T.reshape(-1)
    used = np.minimum(train.n_frames[seqs], seq_len)
    rows = clip_rows(train.offsets[seqs], starts, used, seq_len)  # (2P, T)
    clips = to_unit_float(gather_clips(frames, rows, device))
    clip_flow = gather_flow(flow, rows, device) if flow is not None else None
    shifts = torch.from_numpy(plan.shifts[pairs].transpose(1, 0, 2).reshape(-1, 2))
    flips = torch.from_numpy(plan.flips[pairs].T.reshape(-1))
    clips, clip_flow = augment(clips, shifts, flips, clip_flow)
    labels = torch.from_numpy(train.labels[seqs]).to(device)
    return PairBatch(clips, clip_flow, labels)


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


def train_one_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, train: TrainSet,
                    plan: EpochPlan, frames: np.ndarray, flow: np.ndarray | None, *,
                    seq_len: int, pairs_per_step: int, margin: float, grad_clip: float,
                    device: torch.device, amp: bool = False, desc: str = "train") -> dict:
    """One pass over the epoch's pairs, in plan order, ``pairs_per_step`` pairs per step.

    Args:
        model, optimizer: the (possibly compiled) model on ``device`` and its optimiser.
        train, plan: sequences and this epoch's draw (``sample_epoch``).
        frames, flow: frame cache and aligned flow store (None when the model takes no flow).
        seq_len, pairs_per_step, margin: T, pairs per step (1 = paper mode), Eq. 10's alpha.
        grad_clip: clamp every gradient element to +-grad_clip (baseline 5); 0 disables.
        device, amp: where to run; bf16 autocast (CUDA only).
        desc: progress-bar label.

    Returns:
        Epoch means per pair of loss / contrastive / identity, pairs, seconds, pairs_per_s and
        frame_pairs_per_s (time steps per second over both sequences of every pair).
    """
    model.train()
    started = time.perf_counter()
    sums = torch.zeros(3, device=device)  # total, contrastive, identity (pair-weighted)
    order = np.arange(len(plan))
    chunks = [order[i:i + pairs_per_step] for i in range(0, len(plan), pairs_per_step)]
    bar = tqdm(chunks, desc=desc, unit="step", file=sys.stderr, disable=not sys.stderr.isatty())
    for i, chunk in enumerate(bar):
        batch = load_pairs(train, plan, chunk, frames, flow, seq_len, device)
        sums += optimizer_step(model, optimizer, batch, margin, grad_clip, amp) * len(chunk)
        if i % 20 == 0 and not bar.disable:
            rate = 2 * (chunk[-1] + 1) / (time.perf_counter() - started)
            bar.set_postfix(loss=f"{sums[0].item() / (chunk[-1] + 1):.3f}", seq_s=f"{rate:.1f}")
    seconds = time.perf_counter() - started
    total, contrastive, identity = (sums / len(plan)).tolist()
    return {"loss": total, "contrastive": contrastive, "identity": identity, "pairs": len(plan),
            "seconds": seconds, "pairs_per_s": len(plan) / seconds,
            "frame_pairs_per_s": 2 * len(plan) * (seq_len - 1) / seconds}
