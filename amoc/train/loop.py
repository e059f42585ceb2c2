"""The one training loop: Siamese pairs -> multi-task loss (Eq. 11) -> clipped optimiser step.

"paper" mode is ``pairs_per_step=1`` (baseline: one pair per step, epoch = 2N steps alternating
positive and negative pairs); "batched" mode puts many pairs in one step. Both halves of every
pair go through the model in one forward call (Siamese weight sharing), and every loss term is a
mean over the pairs of the step, so a batched step's loss is the mean of its per-pair losses.
Batches come from ``amoc.train.batches``; motion pre-training takes its optimiser step from
``descend`` here too.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from contextlib import closing, nullcontext

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from amoc.losses import MultiTaskLoss, multitask_loss
from amoc.train.batches import PairBatch, host_batches, to_device_pairs
from amoc.train.sampling import EpochPlan, TrainSet

log = logging.getLogger(__name__)

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
    descend(model, optimizer, loss.total, grad_clip)
    return torch.stack([loss.total, loss.contrastive, loss.identity_a + loss.identity_b]).detach()


def single_step(model: nn.Module, optimizer: torch.optim.Optimizer, margin: float,
                grad_clip: float, amp: bool) -> Callable[[dict[str, torch.Tensor]], torch.Tensor]:
    """``optimizer_step`` as a function of the step's tensors alone (frames, labels and, for
    offline-flow variants, flow): the form ``amoc.train.graphs.GraphedStep`` replays."""
    def step(inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        batch = PairBatch(inputs["frames"], inputs.get("flow"), inputs["labels"])
        return optimizer_step(model, optimizer, batch, margin, grad_clip, amp)
    return step


def step_inputs(batch: PairBatch) -> dict[str, torch.Tensor]:
    """The tensors of a batch by name (flow only when there is one)."""
    inputs = {"frames": batch.frames, "labels": batch.labels}
    if batch.flow is not None:
        inputs["flow"] = batch.flow
    return inputs


def descend(model: nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor,
            grad_clip: float) -> None:
    """Backward and update: the one optimiser step of training and motion pre-training.

    ``grad_clip`` > 0 clamps every gradient element to +-grad_clip first (baseline 5); 0 skips.
    """
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip > 0:
        nn.utils.clip_grad_value_(model.parameters(), grad_clip)
    optimizer.step()


def synchronize(device: torch.device) -> None:
    """Wait for the GPU's queued work so wall-clock timings cover it (no-op off CUDA)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_one_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, train: TrainSet,
                    plan: EpochPlan, frames: np.ndarray, flow: np.ndarray | None, *,
                    seq_len: int, pairs_per_step: int, margin: float, grad_clip: float,
                    device: torch.device, amp: bool = False, prefetch: bool | None = None,
                    desc: str = "train",
                    step: Callable[[dict[str, torch.Tensor]], torch.Tensor] | None = None) -> dict:
    """One pass over the epoch's pairs, in plan order, ``pairs_per_step`` pairs per step.

    Args:
        model, optimizer: the (possibly compiled) model on ``device`` and its optimiser.
        train, plan: sequences and this epoch's draw (``sample_epoch``).
        frames, flow: frame cache and aligned flow store (None when the model takes no flow).
        seq_len, pairs_per_step, margin: T, pairs per step (1 = paper mode), Eq. 10's alpha.
        grad_clip: clamp every gradient element to +-grad_clip (baseline 5); 0 disables.
        device, amp, desc: where to run; bf16 autocast (CUDA only); progress-bar label.
        prefetch: gather the next steps in a thread (pinned on CUDA); None: on CUDA only.
        step: the optimiser step to run, e.g. a ``GraphedStep`` of ``single_step`` (kept across
            epochs so a CUDA graph is captured once); None: ``single_step`` eagerly.

    Returns:
        Epoch means per pair of loss / contrastive / identity, pairs, seconds, pairs_per_s and
        frame_pairs_per_s (time steps per second over both sequences of every pair).
    """
    model.train()
    step = step or single_step(model, optimizer, margin, grad_clip, amp)
    started = time.perf_counter()
    sums = torch.zeros(3, device=device)  # total, contrastive, identity (pair-weighted)
    chunks = np.array_split(np.arange(len(plan)), range(pairs_per_step, len(plan), pairs_per_step))
    with closing(host_batches(train, plan, chunks, frames, flow, seq_len, device,
                              prefetch)) as batches:
        bar = tqdm(batches, desc=desc, total=len(chunks), unit="step", file=sys.stderr,
                   disable=not sys.stderr.isatty())
        for i, (host, chunk) in enumerate(zip(bar, chunks, strict=True)):
            sums += step(step_inputs(to_device_pairs(host, device))) * len(chunk)
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
