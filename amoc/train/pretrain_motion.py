"""Pre-train the motion network alone on (frame pair -> offline flow) (Sec. III-D1).

Usage:
    python -m amoc.train.pretrain_motion --cache DIR --flow-store DIR --width W --colour C
        --pretrain-config JSON --out motion.pt [--split FILE] [--log-json metrics.json]

Multiscale smooth-L1 loss (Eq. 12-14), Adam (0.9, 0.999), mini-batches of 4 pairs, lr 1e-4
halved every ``halve_every`` iterations from ``halve_after`` on. Pairs are every consecutive frame
pair of the split's training persons (all tracklets without ``--split``; the workflow's
``pretrain.persons: train``, the default, passes the split so test persons never reach
pre-training), minus a few held-out tracklets on which the end-of-run EPE is reported next to the
zero-flow EPE. Frames go through the model's own ``Preprocess`` in the colour space of the AMOC
model it initialises (``--colour``), so the net sees what it will see inside AMOC.
Checkpoints to ``<out>.partial`` and resumes from it exactly.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from amoc.atomic import write_json_atomic
from amoc.cli import run_command
from amoc.config import PretrainConfig
from amoc.data.cache import FrameCache
from amoc.errors import ConfigError
from amoc.losses import multiscale_motion_loss
from amoc.models import MotionNet, Preprocess, frame_pairs
from amoc.models.config import COLOURS
from amoc.train.augment import augment
from amoc.train.checkpoint import (
    StaleCheckpointError,
    check_config,
    read_checkpoint,
    restore_rng_states,
    rng_states,
    save_checkpoint,
    train_resumably,
)
from amoc.train.clips import gather_clips, gather_flow, to_unit_float
from amoc.train.guard import check_pretrained_net, check_pretraining_loss
from amoc.train.inputs import open_flow, parse_json_arg, read_split, resolve_device
from amoc.train.loop import descend

log = logging.getLogger(__name__)

# Keys that may change between an interrupted run and its resumption: the schedule does not
# depend on ``iterations`` (a partial already past it is stale), the others change no number.
RESUMABLE_CHANGES = frozenset({"iterations", "checkpoint_every", "device"})
EPE_BATCH = 64
CURVE_POINTS = 10  # loss and held-out EPE are logged this many times over a run


def pretrain_lr(iteration: int, base: float, halve_after: int, halve_every: int) -> float:
    """Learning rate at a 0-based iteration: base, halved at halve_after and every halve_every."""
    if iteration < halve_after:
        return base
    return base * 0.5 ** ((iteration - halve_after) // halve_every + 1)


def pair_rows(index: pd.DataFrame, pids: list[int] | None, n_heldout: int,
              seed: int) -> tuple[np.ndarray, np.ndarray]:
    """First-frame cache rows of every training pair and of the held-out pairs.

    Held-out tracklets are drawn with a generator of their own, so resuming never changes them.
    """
    rows = index if pids is None else index[index["pid"].isin(pids)]
    rows = rows[rows["n_frames"] >= 2]
    held = np.random.default_rng([seed, 1]).permutation(len(rows))[:n_heldout]
    is_held = np.zeros(len(rows), dtype=bool)
    is_held[held] = True
    if is_held.all():
        raise ConfigError(f"all {len(rows)} tracklets are held out; lower heldout_tracklets")

    def firsts(part: pd.DataFrame) -> np.ndarray:
        return np.concatenate([o + np.arange(n - 1) for o, n in
                               zip(part["offset"], part["n_frames"], strict=True)])

    return firsts(rows[~is_held]), firsts(rows[is_held])


def load_batch(frames: np.ndarray, flow: np.ndarray, rows: np.ndarray, preprocess: Preprocess,
               device: torch.device, shifts: np.ndarray | None = None,
               flips: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Stacked, preprocessed frame pairs and their (augmented) target flow.

    Shape: rows (B,) -> pairs (B, 6, H, W), target (B, 2, H/2, W/2).
    """
    clip = np.stack([rows, rows + 1], axis=1)  # (B, 2) rows of frame t and t + 1
    x = to_unit_float(gather_clips(frames, clip, device))  # (B, 2, 3, H, W)
    target = gather_flow(flow, clip, device)  # (B, 1, 2, h, w)
    if shifts is not None:
        x, target = augment(x, torch.from_numpy(shifts), torch.from_numpy(flips), target)
    return frame_pairs(preprocess(x))[:, 0], target[:, 0]


@torch.inference_mode()
def heldout_epe(net: MotionNet, frames: np.ndarray, flow: np.ndarray, rows: np.ndarray,
                preprocess: Preprocess, device: torch.device) -> tuple[float, float]:
    """Mean end-point error of Pred3 and of a zero-flow guess on the held-out pairs."""
    net.eval()
    err, zero = 0.0, 0.0
    for b in range(0, len(rows), EPE_BATCH):
        pairs, target = load_batch(frames, flow, rows[b:b + EPE_BATCH], preprocess, device)
        err += float(torch.linalg.vector_norm(net(pairs).pred3 - target, dim=1).mean(dim=(1, 2)).sum())
        zero += float(torch.linalg.vector_norm(target, dim=1).mean(dim=(1, 2)).sum())
    net.train()
    return err / len(rows), zero / len(rows)


class Pretrain:
    """Mutable state of one pre-training run (net, optimiser, generator, iteration, timing)."""

    def __init__(self, width: float, colour: str, cfg: PretrainConfig,
                 device: torch.device) -> None:
        self.width, self.colour, self.cfg, self.device = width, colour, cfg, device
        torch.manual_seed(cfg.seed)
        # channels_last: 15% less time per step on one CPU core (width 0.125), as in training
        self.net = MotionNet(width).to(device, memory_format=torch.channels_last)
        self.preprocess = Preprocess(colour).to(device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=cfg.lr, betas=(0.9, 0.999))
        self.rng = np.random.default_rng(cfg.seed)
        self.iteration, self.train_seconds, self.history = 0, 0.0, []

    def save(self, path: Path, **extra: object) -> None:
        """Checkpoint the motion net and everything needed to resume."""
        save_checkpoint(path, kind="motion-net", model=self.net,
                        model_config=self.model_config, optimizer=self.optimizer.state_dict(),
                        iteration=self.iteration, rng=rng_states(self.rng),
                        pretrain_config=self.cfg.to_dict(), seed=self.cfg.seed,
                        device=str(self.device), train_seconds=self.train_seconds,
                        history=self.history, **extra)

    @property
    def model_config(self) -> dict[str, object]:
        """What the motion net must match in the AMOC model it initialises."""
        return {"width": self.width, "colour": self.colour}

    def resume(self, path: Path) -> None:
        """Restore a partial checkpoint after checking width and config.

        Raises:
            StaleCheckpointError: another width, colour or pretrain config, or a partial
            already past ``iterations`` (the caller sets it aside).
        """
        payload = read_checkpoint(path, "motion-net")
        check_config(path, "motion net config", payload["model_config"], self.model_config)
        check_config(path, "pretrain config", payload["pretrain_config"], self.cfg.to_dict(),
                     ignore=RESUMABLE_CHANGES)
        if payload["iteration"] > self.cfg.iterations:
            raise StaleCheckpointError(f"{path}: at iteration {payload['iteration']}, past "
                                       f"pretrain.iterations = {self.cfg.iterations}")
        self.net.load_state_dict(payload["model_state"])
        self.optimizer.load_state_dict(payload["optimizer"])
        restore_rng_states(payload["rng"], self.rng)
        self.iteration, self.train_seconds = payload["iteration"], payload["train_seconds"]
        self.history = list(payload["history"])
        log.info("resumed %s at iteration %d", path, self.iteration)

    def step(self, frames: np.ndarray, flow: np.ndarray, rows: np.ndarray) -> float:
        """One Adam step on a random mini-batch; returns the Eq. 14 loss."""
        c = self.cfg
        for group in self.optimizer.param_groups:
            group["lr"] = pretrain_lr(self.iteration, c.lr, c.halve_after, c.halve_every)
        batch = rows[self.rng.integers(len(rows), size=c.batch_pairs)]
        max_dy, max_dx = round(c.translate * frames.shape[1]), round(c.translate * frames.shape[2])
        shifts = np.stack([self.rng.integers(-max_dy, max_dy + 1, c.batch_pairs),
                           self.rng.integers(-max_dx, max_dx + 1, c.batch_pairs)], axis=1)
        flips = self.rng.random(c.batch_pairs) < (0.5 if c.flip else 0.0)
        pairs, target = load_batch(frames, flow, batch, self.preprocess, self.device, shifts,
                                   flips)
        loss = multiscale_motion_loss(*self.net(pairs), target, flow_scale=c.flow_scale).total
        descend(self.net, self.optimizer, loss, grad_clip=0)
        self.iteration += 1
        return float(loss.detach())


def run_pretrain(state: Pretrain, frames: np.ndarray, flow: np.ndarray, rows: np.ndarray,
                 held: np.ndarray, partial: Path) -> None:
    """Iterate to ``cfg.iterations``; ``CURVE_POINTS`` times, log the mean loss since the last
    point and the held-out EPE (the training curve); checkpoint every ``checkpoint_every``."""
    c = state.cfg
    log_every = max(1, c.iterations // CURVE_POINTS)
    started, losses = time.perf_counter(), []
    while state.iteration < c.iterations:
        losses.append(state.step(frames, flow, rows))
        check_pretraining_loss(losses[-1], state.iteration, c.lr)
        if state.iteration % log_every == 0 or state.iteration == c.iterations:
            state.train_seconds += time.perf_counter() - started
            epe = heldout_epe(state.net, frames, flow, held, state.preprocess,
                              state.device)[0]  # draws no RNG
            state.history.append({"iteration": state.iteration, "loss": float(np.mean(losses)),
                                  "heldout_epe": epe})
            log.info("iteration %d/%d: loss %.4f, held-out EPE %.3f px", state.iteration,
                     c.iterations, state.history[-1]["loss"], epe)
            started, losses = time.perf_counter(), []
        if state.iteration % c.checkpoint_every == 0 and state.iteration < c.iterations:
            state.save(partial)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="amoc pretrain", description=__doc__.splitlines()[0])
    parser.add_argument("--cache", required=True, help="frame cache directory")
    parser.add_argument("--flow-store", required=True, help="offline flow store (targets)")
    parser.add_argument("--width", type=float, required=True, help="motion-net width multiplier")
    parser.add_argument("--colour", required=True, choices=COLOURS,
                        help="colour space of the AMOC model it initialises (ModelConfig.colour)")
    parser.add_argument("--pretrain-config", default="{}", help="PretrainConfig as JSON")
    parser.add_argument("--split", help="split JSON: use only its training persons")
    parser.add_argument("--out", required=True, help="motion-net checkpoint path")
    parser.add_argument("--log-json", help="loss history and held-out EPE as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Pre-train (or resume), report held-out EPE, write the checkpoint atomically."""
    args = parse_args(argv)
    cfg = PretrainConfig.from_dict(parse_json_arg(args.pretrain_config, "--pretrain-config"))
    cache = FrameCache(args.cache)
    flow = open_flow(cache, args.flow_store, required=True)
    pids = read_split(args.split)["train_pids"] if args.split else None
    rows, held = pair_rows(cache.index, pids, cfg.heldout_tracklets, cfg.seed)
    state = Pretrain(args.width, args.colour, cfg, resolve_device(cfg.device))

    heldout: dict[str, float | int] = {}

    def finish() -> dict[str, float | int]:
        epe, zero = heldout_epe(state.net, cache.frames, flow, held, state.preprocess,
                                state.device)
        log.info("held-out EPE %.3f px vs zero-flow EPE %.3f px (%d pairs)", epe, zero, len(held))
        check_pretrained_net(epe, zero, cfg.lr)
        heldout.update(heldout_epe=epe, zero_flow_epe=zero, heldout_pairs=len(held))
        return heldout

    def write_curves() -> None:
        if args.log_json:
            write_json_atomic(args.log_json, {
                "history": state.history, **heldout, "train_pairs": len(rows),
                "train_seconds": state.train_seconds, "pretrain_config": cfg.to_dict()})

    train_resumably(state, args.out,
                    lambda partial: run_pretrain(state, cache.frames, flow, rows, held, partial),
                    finish=finish, write_outputs=write_curves)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_command(main))
