"""Train one model on one split: ``python -m amoc.train.run``.

Usage:
    python -m amoc.train.run --cache DIR --split FILE --model-config JSON --train-config JSON
        [--flow-store DIR] [--motion-init CKPT] --out model.pt [--log-json metrics.json]

``num_classes`` may be omitted from the model config: it is the split's number of training
identities. Checkpoints go to ``<out>.partial`` every ``checkpoint_every`` epochs; a rerun resumes from it
(bit-identical on CPU) and the finished model is renamed atomically onto ``--out``.

On CUDA, cuDNN autotuning (``torch.backends.cudnn.benchmark``) is on: the clip length and batch
are fixed, so each shape is tuned once. The kernels it picks may differ between runs, so CUDA
results (a resumed run's too) can differ in the last bits; CPU runs are unaffected.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from amoc.atomic import write_json_atomic
from amoc.cli import run_command
from amoc.config import TrainConfig
from amoc.data.cache import FrameCache
from amoc.errors import AmocError, CheckpointError, ConfigError
from amoc.models import ModelConfig
from amoc.plugins.model import model_builder, prepare_model
from amoc.train.checkpoint import (
    check_config,
    read_checkpoint,
    restore_rng_states,
    rng_states,
    save_checkpoint,
    train_resumably,
)
from amoc.train.guard import check_training_loss
from amoc.train.inputs import (
    needs_offline_flow,
    open_flow,
    parse_json_arg,
    read_split,
    resolve_device,
)
from amoc.train.loop import train_one_epoch
from amoc.train.milestones import Rank1Probe, milestone_epochs
from amoc.train.sampling import TrainSet, build_train_set, sample_epoch

log = logging.getLogger(__name__)

# Train-config keys that may change between an interrupted run and its resumption.
RESUMABLE_CHANGES = frozenset({"epochs", "checkpoint_every", "device", "compile"})


def make_optimizer(params, name: str, lr: float, momentum: float) -> torch.optim.Optimizer:
    """SGD with momentum (baseline) or Adam (default betas)."""
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum)
    return torch.optim.Adam(params, lr=lr)


def load_motion_init(model: nn.Module, path: str, cfg: ModelConfig) -> None:
    """Initialise ``model.motion_net`` from a pre-trained motion checkpoint.

    Raises:
        ConfigError: the model has no motion net. CheckpointError: the width or the colour
        space it was pre-trained in differs from the model's.
    """
    if getattr(model, "motion_net", None) is None:
        raise ConfigError(f"--motion-init {path}: this model variant has no motion network")
    payload = read_checkpoint(path, "motion-net")
    saved = payload["model_config"]
    for key, ours in (("width", cfg.motion_width), ("colour", cfg.colour)):
        if saved.get(key) != ours:
            raise CheckpointError(f"{path}: motion net {key} {saved.get(key)!r} != the model's "
                                  f"{ours!r}; pre-train with this {key} or change the model")
    model.motion_net.load_state_dict(payload["model_state"])
    log.info("motion net initialised from %s (iteration %s)", path, payload.get("iteration"))


def freeze_motion_net(model: nn.Module) -> None:
    """``train.freeze_motion``: the motion net keeps its pre-trained weights (no gradients).

    Raises:
        ConfigError: the model has no motion net.
    """
    if getattr(model, "motion_net", None) is None:
        raise ConfigError("train.freeze_motion: this model variant has no motion network; "
                          "set it only on end-to-end AMOC (model.variant: amoc)")
    model.motion_net.requires_grad_(False)


def enable_cudnn_autotune(device: torch.device) -> None:
    """Let cuDNN benchmark its kernels per input shape (fixed shapes) when training on CUDA.

    The fastest kernel may differ from run to run, which can change results in the last bits;
    CPU devices are left alone (CPU results stay bit-identical).
    """
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        log.info("cuDNN autotuning on (results may differ in the last bits between runs)")


class Run:
    """Mutable state of one training run: model, optimiser, generator, history, timing."""

    def __init__(self, model_config: dict, build: Callable[[], nn.Module], tcfg: TrainConfig,
                 device: torch.device) -> None:
        self.model_config, self.tcfg, self.device = model_config, tcfg, device
        torch.manual_seed(tcfg.seed)
        self.model = prepare_model(build(), model_config, device, step="training",
                                   channels_last=tcfg.channels_last, seq_len=tcfg.seq_len,
                                   batch=2 * tcfg.pairs_per_step)
        if tcfg.freeze_motion:
            freeze_motion_net(self.model)
        self.optimizer = make_optimizer([p for p in self.model.parameters() if p.requires_grad],
                                        tcfg.optimizer, tcfg.lr, tcfg.momentum)
        self.rng = np.random.default_rng(tcfg.seed)
        self.epoch, self.train_seconds, self.history = 0, 0.0, []
        self.motion_init: str | None = None

    def save(self, path: Path, **extra: object) -> None:
        """Checkpoint everything needed to resume or to rebuild the model."""
        save_checkpoint(path, kind="amoc-model", model=self.model,
                        model_config=self.model_config, optimizer=self.optimizer.state_dict(),
                        epoch=self.epoch, rng=rng_states(self.rng),
                        train_config=self.tcfg.to_dict(), seed=self.tcfg.seed,
                        device=str(self.device), train_seconds=self.train_seconds,
                        history=self.history, motion_init=self.motion_init, **extra)

    def resume(self, path: Path) -> None:
        """Restore the state saved by ``save`` after checking both configs match."""
        payload = read_checkpoint(path, "amoc-model")
        check_config(path, "model config", payload["model_config"], self.model_config)
        check_config(path, "train config", payload["train_config"], self.tcfg.to_dict(),
                     ignore=RESUMABLE_CHANGES)
        self.model.load_state_dict(payload["model_state"])
        self.optimizer.load_state_dict(payload["optimizer"])
        restore_rng_states(payload["rng"], self.rng)
        self.epoch, self.train_seconds = payload["epoch"], payload["train_seconds"]
        self.history, self.motion_init = list(payload["history"]), payload["motion_init"]
        log.info("resumed %s at epoch %d (%.0f s trained)", path, self.epoch, self.train_seconds)


def fit(run: Run, train: TrainSet, frames: np.ndarray, flow: np.ndarray | None,
        partial: Path, after_epoch: Callable[[Run], None] | None = None) -> None:
    """Train ``run`` from its current epoch to ``epochs``, checkpointing to ``partial``.

    ``after_epoch`` runs after each epoch is recorded in ``run.history`` and before any
    checkpoint (milestone rank-1 goes into that epoch's history entry).
    """
    t = run.tcfg
    model = torch.compile(run.model) if t.compile else run.model
    while run.epoch < t.epochs:
        started = time.perf_counter()
        plan = sample_epoch(train, run.rng, t.seq_len, t.translate, t.flip, frames.shape[1:3],
                            t.pairs_per_epoch)
        stats = train_one_epoch(model, run.optimizer, train, plan, frames, flow,
                                seq_len=t.seq_len, pairs_per_step=t.pairs_per_step,
                                margin=t.margin, grad_clip=t.grad_clip, device=run.device,
                                amp=t.amp, desc=f"epoch {run.epoch + 1}/{t.epochs}")
        close_epoch(run, stats, time.perf_counter() - started, partial, after_epoch)


def close_epoch(run: Run, stats: dict, seconds: float, partial: Path,
                after_epoch: Callable[[Run], None] | None) -> None:
    """Record a finished epoch (history, time), run ``after_epoch``, checkpoint when due.

    Shared by ``fit`` and the lockstep trainer (amoc.train.lockstep).

    Raises:
        AmocError: a non-finite loss (nothing is recorded or written).
    """
    t = run.tcfg
    if not math.isfinite(stats["loss"]):
        raise AmocError(f"epoch {run.epoch + 1}: the loss is {stats['loss']}; the inputs or "
                        "the learning rate are broken (no model was written)")
    run.epoch += 1
    run.train_seconds += seconds
    run.history.append({"epoch": run.epoch, **stats})
    check_training_loss(run.history, t.lr)  # a diverged run stops here, naming train.lr
    log.info("epoch %d/%d: loss %.4f (contrastive %.4f, identity %.4f), %.1f frame pairs/s",
             run.epoch, t.epochs, stats["loss"], stats["contrastive"], stats["identity"],
             stats["frame_pairs_per_s"])
    if after_epoch is not None:
        after_epoch(run)
    if run.epoch % t.checkpoint_every == 0 and run.epoch < t.epochs:
        run.save(partial)


def milestone_recorder(tcfg: TrainConfig, cache: FrameCache, split: dict,
                       flow: np.ndarray | None,
                       device: torch.device) -> Callable[[Run], None] | None:
    """``after_epoch`` that adds ``rank1`` to the history at ``tcfg.milestones`` epochs."""
    epochs = set(milestone_epochs(tcfg.epochs, tcfg.milestones))
    if not epochs:
        return None
    probe = Rank1Probe(cache.index, split["test_pids"], cache.frames, flow, device)

    def record(run: Run) -> None:
        if run.epoch in epochs:
            run.history[-1]["rank1"] = probe(run.model)
            log.info("milestone epoch %d: rank-1 %.1f%%", run.epoch,
                     100 * run.history[-1]["rank1"])

    return record


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="amoc train", description=__doc__.splitlines()[0])
    parser.add_argument("--cache", required=True, help="frame cache directory")
    parser.add_argument("--split", required=True, help="split JSON (train_pids, test_pids)")
    parser.add_argument("--model-config", required=True, help="ModelConfig as a JSON object")
    parser.add_argument("--train-config", default="{}", help="TrainConfig as a JSON object")
    parser.add_argument("--flow-store", help="offline flow store (rcn, amoc_offline)")
    parser.add_argument("--motion-init", help="pre-trained motion net (amoc variant)")
    parser.add_argument("--out", required=True, help="final checkpoint path")
    parser.add_argument("--log-json", help="per-epoch metrics JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Train (or resume) and write the final checkpoint atomically."""
    args = parse_args(argv)
    tcfg = TrainConfig.from_dict(parse_json_arg(args.train_config, "--train-config"))
    model_values = parse_json_arg(args.model_config, "--model-config")
    cache = FrameCache(args.cache)
    split = read_split(args.split)
    train = build_train_set(cache.index, split["train_pids"], tcfg.seq_len, tcfg.short_seqs)
    model_config, build = model_builder(model_values, train.num_classes)
    if model_config["num_classes"] != train.num_classes:
        raise ConfigError(f"num_classes = {model_config['num_classes']} in the model config but "
                          f"{args.split} has {train.num_classes} training identities; omit it "
                          "or set it to match")
    flow = open_flow(cache, args.flow_store, needs_offline_flow(model_config))
    device = resolve_device(tcfg.device)
    enable_cudnn_autotune(device)
    run = Run(model_config, build, tcfg, device)

    def start() -> None:
        if args.motion_init:
            load_motion_init(run.model, args.motion_init, ModelConfig.from_dict(model_config))
            run.motion_init = str(args.motion_init)

    record = milestone_recorder(tcfg, cache, split, flow, device)

    def write_curves() -> None:  # before the model is renamed onto --out
        if args.log_json:
            write_json_atomic(args.log_json, curves(run, train))

    train_resumably(run, args.out,
                    lambda partial: fit(run, train, cache.frames, flow, partial, record),
                    start=start, write_outputs=write_curves)
    return 0


def curves(run: Run, train: TrainSet) -> dict:
    """The ``--log-json`` document: per-epoch history and what the run was."""
    t = run.tcfg
    return {"epochs": run.history, "train_seconds": run.train_seconds, "device": str(run.device),
            "skipped_short_sequences": train.skipped,
            "pairs_per_epoch": t.pairs_per_epoch or 2 * len(train.groups),
            "train_config": t.to_dict(), "model_config": run.model_config}


if __name__ == "__main__":
    raise SystemExit(run_command(main))
