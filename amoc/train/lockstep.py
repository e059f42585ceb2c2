"""Train K models of one architecture in one process, stepping together: ``amoc.train.lockstep``.

Usage:
    python -m amoc.train.lockstep --cache DIR --model-config JSON --train-config JSON
        [--flow-store DIR] [--cuda-graphs]
        --member SPLIT SEED OUT CURVES [MOTION_INIT] [--member ...]

Each ``--member`` is one ordinary training: its split file, its seed (overriding the train
config's ``seed``), its final checkpoint (``OUT``, the format ``amoc.train.run`` writes and
``amoc.eval.evaluate`` reads; ``OUT.partial`` every ``checkpoint_every`` epochs), its curves
JSON (``--log-json``'s format) and, for end-to-end AMOC, its pre-trained motion net.

Why: the splits and seeds of one variant are independent trainings of identical shape. A
paper-mode step (one pair) leaves a GPU idle while Python launches small kernels; batching the
models, not the pairs, keeps each model's optimisation the paper's (one pair per SGD step) while
K models share every kernel launch.

What each member keeps as its own single run (``amoc.train.run.Run`` + ``fit``) would: the
initial weights (built under its own seed), its numpy generator and epoch plans
(``sample_epoch`` in the same order), its pairs per step, its optimiser (torch.optim on its own
parameters, whose storage is a slice of the stack: per-member lr, momentum, SGD or Adam), its
element-wise gradient clamp, history and checkpoints. With dropout off a member's weights equal
its single run's to float rounding (tests/test_lockstep.py: 1e-5 relative after 2 epochs).
Dropout masks come from the process's torch generator (``vmap(randomness="different")``): a
lockstep run is deterministic, but a member's masks are not its single run's.

Members whose epochs have fewer steps (fewer training identities) sit out the remaining steps
of the round: no forward, no update, optimiser state untouched. Members resumed at different
epochs (a kill between two members' checkpoints) train alone until they catch up.

Lockstep is a GPU setting. On a CPU it is slower: K = 10 at width 0.125 (paper mode, T=8, 2
threads) ran at 0.25x the rate of the same 10 trainings one after another (bench/README.md,
2026-12-04): a CPU has no launch overhead to share, and grouped convolutions over contiguous
weights are slower there than one model's channels_last convolutions.

How the arithmetic is batched: ``torch.func.vmap`` of ``functional_call`` over the stacked
parameters (amoc.train.stacked), which turns every convolution into one grouped convolution
over the K models (vmap's batching rule for a convolution with batched weights is exactly a
grouped convolution). A hand-written grouped-convolution model would run the same kernels
without vmap's per-call Python overhead, but duplicates every layer of the model family and
cannot serve plug-ins; it was not built, so the choice rests on that, not on a CPU measurement
of both (the CPU figure above is vmap's). Under a CUDA graph (``--cuda-graphs``) vmap's Python
overhead is paid once, at capture.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from pathlib import Path

import numpy as np
import torch
from torch import nn

from amoc.atomic import write_json_atomic
from amoc.cli import run_command
from amoc.config import TrainConfig
from amoc.data.cache import FrameCache
from amoc.errors import ConfigError
from amoc.models import ModelConfig
from amoc.plugins.model import model_builder
from amoc.train.batches import PREFETCH_DEPTH, HostPairs, gather_pairs, to_device_pairs
from amoc.train.checkpoint import partial_path, train_resumably
from amoc.train.clips import prefetched
from amoc.train.graphs import GraphedStep
from amoc.train.inputs import (
    needs_offline_flow,
    open_flow,
    parse_json_arg,
    read_split,
    resolve_device,
)
from amoc.train.loop import autocast_for, synchronize
from amoc.train.run import (
    Run,
    close_epoch,
    curves,
    enable_cudnn_autotune,
    load_motion_init,
    milestone_recorder,
)
from amoc.train.sampling import TrainSet, build_train_set, sample_epoch
from amoc.train.stacked import StackedModels, compact

log = logging.getLogger(__name__)

# Train-config keys members may differ in (they change no shape and no step count).
PER_MEMBER = frozenset({"seed", "lr", "margin", "momentum", "grad_clip", "optimizer",
                        "translate", "flip", "pairs_per_epoch", "milestones"})

AfterEpoch = Callable[[Run], None] | None


class LockstepRun(Run):
    """A member's ``Run``: its parameters are views into the stack, saved as compact copies."""

    def save(self, path: Path, **extra: object) -> None:
        with compact(self.model):
            super().save(path, **extra)


def check_members(configs: list[TrainConfig]) -> None:
    """Refuse members whose train configs differ in a key that shapes the step or the run.

    Raises:
        ConfigError: naming the key and the values.
    """
    first = configs[0].to_dict()
    for cfg in configs[1:]:
        for key, value in cfg.to_dict().items():
            if key not in PER_MEMBER and value != first[key]:
                raise ConfigError(f"lockstep training: train.{key} differs between members "
                                  f"({first[key]!r} vs {value!r}); only "
                                  f"{', '.join(sorted(PER_MEMBER))} may differ")
    if configs[0].compile:
        log.warning("train.compile is ignored in lockstep training (vmap runs the step)")


@dataclass
class Lockstep:
    """The K runs, their training sets and the stack their parameters live in."""

    runs: list[Run]
    trains: list[TrainSet]
    stack: StackedModels
    graphs: bool = False

    def __post_init__(self) -> None:
        check_members([r.tcfg for r in self.runs])
        self.device = self.runs[0].device
        self.margins = torch.tensor([r.tcfg.margin for r in self.runs], device=self.device)
        every = list(range(len(self.runs)))
        self.graphed = GraphedStep(lambda x: self.step(every, x), self.device, self.graphs)

    def step(self, members: list[int], inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Forward and backward of the chosen members, then each one's clamp and update.

        Returns:
            Detached (k, 3): total, contrastive, identity loss of each chosen member.
        """
        margins = self.margins  # no host-to-device copy for all K: CUDA-graph capturable
        if len(members) < len(self.runs):
            margins = margins[torch.as_tensor(members, device=self.device)]
        with autocast_for(self.device, self.runs[0].tcfg.amp):
            losses = self.stack.losses(members, inputs["frames"], inputs.get("flow"),
                                       inputs["labels"], margins)
        self.stack.zero_grad()
        losses[:, 0].sum().backward()
        for k in members:
            self.stack.hand_grads(k)
            run = self.runs[k]
            if run.tcfg.grad_clip > 0:
                nn.utils.clip_grad_value_(run.model.parameters(), run.tcfg.grad_clip)
            run.optimizer.step()
        return losses.detach()

    def epoch(self, active: list[int], frames: np.ndarray, flow: np.ndarray | None) -> dict:
        """One epoch of every active member; returns {member: train_one_epoch-style stats}."""
        t = self.runs[active[0]].tcfg
        plans = {k: sample_epoch(self.trains[k], self.runs[k].rng, t.seq_len,
                                 self.runs[k].tcfg.translate, self.runs[k].tcfg.flip,
                                 frames.shape[1:3], self.runs[k].tcfg.pairs_per_epoch)
                 for k in active}
        chunks = {k: np.array_split(np.arange(len(p)), range(t.pairs_per_step, len(p),
                                                              t.pairs_per_step))
                  for k, p in plans.items()}
        pin = self.device.type == "cuda"

        def gather(i: int) -> dict[int, HostPairs]:
            return {k: gather_pairs(self.trains[k], plans[k], chunks[k][i], frames, flow,
                                    t.seq_len, pin) for k in active if i < len(chunks[k])}

        started = time.perf_counter()
        sums = {k: torch.zeros(3, device=self.device) for k in active}
        steps = max(len(c) for c in chunks.values())
        for hosts in prefetched(gather, range(steps), PREFETCH_DEPTH if pin else 0):
            for members, inputs in self._groups(hosts):
                run = self.graphed if len(members) == len(self.runs) else (
                    lambda x, m=members: self.step(m, x))
                losses = run(inputs)
                for j, k in enumerate(members):
                    sums[k] += losses[j] * (inputs["labels"].shape[1] // 2)
        synchronize(self.device)
        seconds = time.perf_counter() - started
        return {k: _stats(sums[k], len(plans[k]), t.seq_len, seconds) for k in active}

    def _groups(self, hosts: dict[int, HostPairs]):
        """The step's members grouped by batch size, each group's inputs stacked on the device."""
        batches = {k: to_device_pairs(h, self.device) for k, h in hosts.items()}
        sizes: dict[int, list[int]] = {}
        for k, b in batches.items():
            sizes.setdefault(b.labels.shape[0], []).append(k)
        for members in sizes.values():
            inputs = {"frames": torch.stack([batches[k].frames for k in members]),
                      "labels": torch.stack([batches[k].labels for k in members])}
            if batches[members[0]].flow is not None:
                inputs["flow"] = torch.stack([batches[k].flow for k in members])
            yield members, inputs


def _stats(sums: torch.Tensor, pairs: int, seq_len: int, seconds: float) -> dict:
    total, contrastive, identity = (sums / pairs).tolist()
    return {"loss": total, "contrastive": contrastive, "identity": identity, "pairs": pairs,
            "seconds": seconds, "pairs_per_s": pairs / seconds,
            "frame_pairs_per_s": 2 * pairs * (seq_len - 1) / seconds}


def fit_lockstep(lock: Lockstep, frames: np.ndarray, flow: np.ndarray | None,
                 partials: list[Path], after_epoch: list[AfterEpoch] | None = None) -> None:
    """Train every member from its own epoch to ``epochs`` (``fit`` for K runs at once).

    ``after_epoch[k]`` runs after each of member k's epochs, as ``fit``'s ``after_epoch``.
    """
    after = after_epoch or [None] * len(lock.runs)
    epochs = lock.runs[0].tcfg.epochs
    while (current := min(r.epoch for r in lock.runs)) < epochs:
        active = [k for k, r in enumerate(lock.runs) if r.epoch == current]
        for k, stats in lock.epoch(active, frames, flow).items():
            close_epoch(lock.runs[k], stats, stats["seconds"], partials[k], after[k])


@dataclass(frozen=True)
class Member:
    """One ``--member``: split file, seed, checkpoint, curves JSON, optional motion init."""

    split: Path
    seed: int
    out: Path
    curves: Path
    motion_init: Path | None = None


def parse_member(values: list[str]) -> Member:
    """``SPLIT SEED OUT CURVES [MOTION_INIT]``.

    Raises:
        ConfigError: a wrong number of values or a seed that is not an integer.
    """
    if len(values) not in (4, 5):
        raise ConfigError(f"--member {' '.join(values)}: expected SPLIT SEED OUT CURVES "
                          "[MOTION_INIT]")
    try:
        seed = int(values[1])
    except ValueError as err:
        raise ConfigError(f"--member {' '.join(values)}: seed {values[1]!r} is not an "
                          "integer") from err
    paths = [Path(v) for v in values[2:]]
    return Member(Path(values[0]), seed, *paths)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="amoc lockstep", description=__doc__.splitlines()[0])
    parser.add_argument("--cache", required=True, help="frame cache directory")
    parser.add_argument("--model-config", required=True, help="ModelConfig as a JSON object")
    parser.add_argument("--train-config", default="{}", help="TrainConfig as a JSON object")
    parser.add_argument("--flow-store", help="offline flow store (rcn, amoc_offline)")
    parser.add_argument("--cuda-graphs", action="store_true",
                        help="replay fixed-shape steps as CUDA graphs (eager fallback)")
    parser.add_argument("--member", nargs="+", action="append", required=True,
                        metavar="SPLIT SEED OUT CURVES [MOTION_INIT]", help="one training")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Train (or resume) every member and write each checkpoint and curves file atomically."""
    args = parse_args(argv)
    members = [parse_member(v) for v in args.member]
    base = parse_json_arg(args.train_config, "--train-config")
    tcfgs = [TrainConfig.from_dict({**base, "seed": m.seed}) for m in members]
    check_members(tcfgs)
    cache = FrameCache(args.cache)
    splits = [read_split(m.split) for m in members]
    trains = [build_train_set(cache.index, s["train_pids"], tcfgs[0].seq_len,
                              tcfgs[0].short_seqs) for s in splits]
    model_values = parse_json_arg(args.model_config, "--model-config")
    built = [model_builder(model_values, t.num_classes) for t in trains]
    for (config, _), t, m in zip(built, trains, members, strict=True):
        if config["num_classes"] != t.num_classes:
            raise ConfigError(f"num_classes = {config['num_classes']} in the model config but "
                              f"{m.split} has {t.num_classes} training identities; omit it")
    flow = open_flow(cache, args.flow_store, needs_offline_flow(built[0][0]))
    device = resolve_device(tcfgs[0].device)
    enable_cudnn_autotune(device)
    runs = [LockstepRun(config, build, t, device) for (config, build), t in zip(built, tcfgs,
                                                                                 strict=True)]
    lock = Lockstep(runs, trains, StackedModels([r.model for r in runs],
                                                [t.num_classes for t in trains]),
                    graphs=args.cuda_graphs)
    after = [milestone_recorder(t, cache, s, flow, device) for t, s in zip(tcfgs, splits,
                                                                          strict=True)]
    partials = [partial_path(m.out) for m in members]

    def train_all(_: Path) -> None:
        fit_lockstep(lock, cache.frames, flow, partials, after)

    def nest(k: int, inner: Callable[[Path], None]) -> Callable[[Path], None]:
        """Member k's resumable job around ``inner`` (lock, resume or start, ..., rename)."""
        def job(_: Path) -> None:
            run, m = runs[k], members[k]
            train_resumably(run, m.out, inner, start=lambda: _start(run, m),
                            write_outputs=lambda: write_json_atomic(
                                m.curves, curves(run, trains[k])))
        return job

    reduce(lambda inner, k: nest(k, inner), reversed(range(len(runs))), train_all)(Path())
    return 0


def _start(run: Run, member: Member) -> None:
    """A fresh member (no partial): load its pre-trained motion net if it has one."""
    if member.motion_init is not None:
        load_motion_init(run.model, str(member.motion_init),
                         ModelConfig.from_dict(run.model_config))
        run.motion_init = str(member.motion_init)


if __name__ == "__main__":
    raise SystemExit(run_command(main))
