"""Training and data-pipeline throughput for ``amoc.bench``, on synthetic in-memory data.

The training figures run the real loop, ``amoc.train.loop.train_one_epoch`` (clip gathering,
on-device augmentation, Eq. 11 loss, gradient clamping, SGD step), on an epoch plan drawn with
``amoc.train.sampling``; the pipeline figures run its batch loader
``amoc.train.batches.load_pairs`` alone. The
frame cache is an in-memory uint8 array with the cache's layout (N, 128, 64, 3) of random
pixels: the page-cached steady state of ``FrameCache.frames`` (first-epoch disk reads excluded).
One frame pair is one time step of one sequence: a pair of T-frame clips is 2 (T - 1).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from amoc.data.cache import FRAME_SHAPE
from amoc.models import ModelConfig, build_model
from amoc.train.batches import load_pairs
from amoc.train.loop import synchronize, train_one_epoch
from amoc.train.sampling import EpochPlan, TrainSet, build_train_set, sample_epoch

log = logging.getLogger(__name__)

SPARE_FRAMES = 8  # frames per synthetic sequence beyond the clip length (random windows)
MARGIN, GRAD_CLIP, LR, MOMENTUM = 2.0, 5.0, 1e-3, 0.9  # baseline training settings


@dataclass(frozen=True)
class SyntheticData:
    """Training sequences (one per identity and camera, 2 cameras) and their uint8 frames."""

    train: TrainSet
    frames: np.ndarray  # (N, 128, 64, 3) uint8
    seq_len: int


@dataclass(frozen=True)
class TrainResult:
    """One training measurement: frame pairs per second and the peak GPU memory (None on CPU)."""

    frame_pairs_per_s: float
    peak_bytes: int | None


def synthetic_data(n_ids: int, seq_len: int, seed: int = 0) -> SyntheticData:
    """``n_ids`` identities x 2 cameras, one sequence of ``seq_len + SPARE_FRAMES`` frames each."""
    n_frames = seq_len + SPARE_FRAMES
    pids = np.repeat(np.arange(1, n_ids + 1), 2)
    cams = np.tile([0, 1], n_ids)
    index = pd.DataFrame({
        "pid": pids, "camid": cams, "n_frames": n_frames,
        "tracklet": [f"cam{c}/person{p:04d}" for p, c in zip(pids, cams, strict=True)],
        "offset": np.arange(len(pids)) * n_frames,
    })
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, size=(len(pids) * n_frames, *FRAME_SHAPE), dtype=np.uint8)
    train = build_train_set(index, sorted(set(pids.tolist())), seq_len)
    return SyntheticData(train, frames, seq_len)


def make_plan(data: SyntheticData, n_pairs: int, seed: int = 0) -> EpochPlan:
    """The first ``n_pairs`` pairs of consecutive epochs drawn by ``sample_epoch``."""
    rng = np.random.default_rng(seed)
    plans: list[EpochPlan] = []
    while sum(len(p) for p in plans) < n_pairs:
        plans.append(sample_epoch(data.train, rng, data.seq_len, frame_hw=FRAME_SHAPE[:2]))
    return EpochPlan(*(np.concatenate([getattr(p, f) for p in plans])[:n_pairs]
                       for f in ("seqs", "same", "starts", "shifts", "flips")))


def frame_pairs(n_pairs: int, seq_len: int) -> int:
    """Time steps of ``n_pairs`` pairs of ``seq_len``-frame clips, both sequences counted."""
    return 2 * n_pairs * (seq_len - 1)


def _model(data: SyntheticData, width: float, device: torch.device,
           channels_last: bool) -> torch.nn.Module:
    """A seeded end-to-end ``amoc`` model on ``device`` (channels_last as in amoc.train.run)."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(num_classes=data.train.num_classes, motion_width=width))
    model = model.to(device)
    return model.to(memory_format=torch.channels_last) if channels_last else model


def measure_training(data: SyntheticData, width: float, device: torch.device, *,
                     pairs_per_step: int, steps: int, warmup: int, fast: bool,
                     compile_model: bool = False) -> TrainResult:
    """Frame pairs per second of ``train_one_epoch`` on the end-to-end ``amoc`` variant.

    Args:
        data: synthetic sequences and frames.
        width: motion_width of the model (1.0 paper, 0.25 default).
        device: where to train.
        pairs_per_step: 1 = paper-faithful mode; more = batched mode.
        steps, warmup: timed steps, and untimed steps run first (allocations, cuDNN, compile).
        fast: channels_last, and bf16 autocast on CUDA (as in ``amoc.train.run``).
        compile_model: wrap the model in ``torch.compile`` (batched mode on CUDA).

    Returns:
        The rate over the timed steps and the peak GPU memory during them.
    """
    model = _model(data, width, device, channels_last=fast)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    runner = torch.compile(model) if compile_model else model
    warm_plan = make_plan(data, warmup * pairs_per_step, seed=1)
    plan = make_plan(data, steps * pairs_per_step, seed=2)
    kwargs = {"seq_len": data.seq_len, "pairs_per_step": pairs_per_step, "margin": MARGIN,
              "grad_clip": GRAD_CLIP, "device": device, "amp": fast, "desc": "bench"}
    train_one_epoch(runner, optimizer, data.train, warm_plan, data.frames, None, **kwargs)
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    started = time.perf_counter()
    train_one_epoch(runner, optimizer, data.train, plan, data.frames, None, **kwargs)
    synchronize(device)
    seconds = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    rate = frame_pairs(len(plan), data.seq_len) / seconds
    log.info("width %.2f, %d pairs/step: %.1f frame pairs/s", width, pairs_per_step, rate)
    return TrainResult(rate, peak)


def measure_pipeline(data: SyntheticData, device: torch.device, *, pairs_per_step: int,
                     steps: int) -> float:
    """Frame pairs per second of ``load_pairs``: gather clips, to float, augment, on ``device``.

    One untimed batch is loaded first (allocator and kernel warm-up).
    """
    plan = make_plan(data, (steps + 1) * pairs_per_step, seed=3)
    chunks = np.array_split(np.arange(len(plan)), steps + 1)
    load_pairs(data.train, plan, chunks[0], data.frames, None, data.seq_len, device)
    synchronize(device)
    started = time.perf_counter()
    for chunk in chunks[1:]:
        load_pairs(data.train, plan, chunk, data.frames, None, data.seq_len, device)
    synchronize(device)
    seconds = time.perf_counter() - started
    return frame_pairs(steps * pairs_per_step, data.seq_len) / seconds
