"""Lockstep training throughput (amoc.train.lockstep) against single-model training, same run.

A lockstep figure is the aggregate rate of K paper-mode models stepping together (each its own
pair per step): frame pairs of all K models per second, the timed epoch's pairs only (a warm-up
epoch first: allocations, cuDNN autotuning, CUDA-graph capture). Its baseline is one
single-model process (``amoc.train.run.Run`` + ``train_one_epoch``) at the same width and
precision; on CPU, where the question is whether K models in one process beat K trainings one
after another, the baseline is K single runs one after another (``measure_singles``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, replace

import torch

from amoc.bench.rows import Row, fmt
from amoc.bench.train import SyntheticData, frame_pairs
from amoc.config import TrainConfig
from amoc.models import ModelConfig, build_model
from amoc.train.graphs import GraphedStep
from amoc.train.lockstep import Lockstep, LockstepRun
from amoc.train.loop import single_step, synchronize, train_one_epoch
from amoc.train.run import Run
from amoc.train.sampling import sample_epoch
from amoc.train.stacked import StackedModels

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LockstepCase:
    """One lockstep measurement: K models at a width and precision, graphs or not."""

    k: int
    width: float
    amp: bool
    graphs: bool

    @property
    def precision(self) -> str:
        return "bf16" if self.amp else "fp32"


def _config(data: SyntheticData, width: float, amp: bool, pairs: int, seed: int
            ) -> tuple[dict, TrainConfig]:
    """The default model (config/config.yaml's ``model``) at ``width`` and a paper-mode run."""
    mcfg = ModelConfig(num_classes=data.train.num_classes, motion_width=width)
    tcfg = TrainConfig.from_dict({"mode": "paper", "seq_len": data.seq_len, "amp": amp,
                                  "pairs_per_epoch": max(2, pairs), "seed": seed,
                                  "device": "auto"})
    return asdict(mcfg), tcfg


def _runs(data: SyntheticData, width: float, device: torch.device, k: int, amp: bool,
          pairs: int, cls: type[Run] = Run) -> list[Run]:
    runs = []
    for seed in range(k):
        mcfg, tcfg = _config(data, width, amp, pairs, seed)
        runs.append(cls(mcfg, lambda m=mcfg: build_model(ModelConfig.from_dict(m)), tcfg,
                        device))
    return runs


def _set_pairs(run: Run, pairs: int) -> None:
    run.tcfg = replace(run.tcfg, pairs_per_epoch=max(2, pairs))


def measure_lockstep(data: SyntheticData, case: LockstepCase, device: torch.device, *,
                     steps: int, warmup: int) -> tuple[float, str]:
    """Aggregate frame pairs/s of ``case`` over ``steps`` lockstep steps, and how it ran."""
    runs = _runs(data, case.width, device, case.k, case.amp, warmup, LockstepRun)
    lock = Lockstep(runs, [data.train] * case.k,
                    StackedModels([r.model for r in runs], [data.train.num_classes] * case.k),
                    graphs=case.graphs)
    every = list(range(case.k))
    lock.epoch(every, data.frames, None)
    for run in runs:
        _set_pairs(run, steps)
    synchronize(device)
    started = time.perf_counter()
    lock.epoch(every, data.frames, None)
    synchronize(device)
    seconds = time.perf_counter() - started
    how = ("CUDA graph replay" if lock.graphed.graphs else
           "eager (capture failed)" if case.graphs and device.type == "cuda" else "eager")
    return case.k * frame_pairs(steps, data.seq_len) / seconds, how


def measure_singles(data: SyntheticData, width: float, device: torch.device, *, k: int,
                    steps: int, warmup: int, amp: bool = False, graphs: bool = False) -> float:
    """Frame pairs/s of ``k`` single paper-mode runs one after another (each warmed up)."""
    seconds = 0.0
    for run in _runs(data, width, device, k, amp, warmup):
        t = run.tcfg
        step = GraphedStep(single_step(run.model, run.optimizer, t.margin, t.grad_clip, t.amp),
                           device, graphs)
        for pairs, timed in ((warmup, False), (steps, True)):
            plan = sample_epoch(data.train, run.rng, t.seq_len, pairs=max(2, pairs))
            synchronize(device)
            started = time.perf_counter()
            train_one_epoch(run.model, run.optimizer, data.train, plan, data.frames, None,
                            seq_len=t.seq_len, pairs_per_step=1, margin=t.margin,
                            grad_clip=t.grad_clip, device=device, amp=t.amp, desc="bench",
                            step=step)
            synchronize(device)
            seconds += (time.perf_counter() - started) if timed else 0.0
    return k * frame_pairs(max(2, steps), data.seq_len) / seconds


def lockstep_row(case: LockstepCase, rate: float | None, how: str, base: float,
                 base_what: str, dev: str, seq_len: int, missing: str = "n/a") -> Row:
    """One row: the aggregate rate of ``case`` and its ratio to ``base``."""
    graphs = ", CUDA graphs" if case.graphs else ""
    ratio = None if rate is None or not base else rate / base
    return Row(f"lockstep K={case.k}, paper mode, width {case.width}, {case.precision}{graphs}",
               rate, "frame pairs/s (all K)", dev, f"{base_what}: {fmt(base)} frame pairs/s",
               ratio, target=">= 40,000 (width 1.0, bf16)"
               if case.width == 1.0 and case.amp else "", missing=missing,
               notes=f"amoc.train.lockstep.Lockstep (vmap over stacked parameters), T={seq_len}, "
                     f"SGD, one pair per model per step; {how}")


def lockstep_rows(data: SyntheticData, device: torch.device, dev: str, *, ks: tuple[int, ...],
                  widths: tuple[float, ...], steps: int, warmup: int,
                  deadline: float = float("inf")) -> list[Row]:
    """Lockstep rows for every K, width and (on CUDA) precision and graphs setting.

    CPU: fp32 eager only, each K against K single runs one after another. CUDA: fp32 and bf16,
    eager and CUDA graphs, against one single-model process (eager) of the same width and
    precision. Cases left when ``time.perf_counter()`` passes ``deadline`` read "skipped".
    """
    cuda = device.type == "cuda"
    rows = []
    for width in widths:
        for amp in (False, True) if cuda else (False,):
            base = None
            for graphs in (False, True) if cuda else (False,):
                for k in ks:
                    case = LockstepCase(k, width, amp, graphs)
                    if time.perf_counter() > deadline:
                        rows.append(lockstep_row(case, None, "", base or 0.0, "not measured",
                                                 dev, data.seq_len,
                                                 missing="skipped (time budget)"))
                        continue
                    if cuda and base is None:
                        base = measure_singles(data, width, device, k=1, steps=steps,
                                               warmup=warmup, amp=amp)
                        rows.append(single_graph_row(data, width, amp, base, device, dev,
                                                     steps, warmup))
                    if cuda:
                        what = f"one single-model process, {case.precision}"
                    else:
                        base = measure_singles(data, width, device, k=k, steps=steps,
                                               warmup=warmup)
                        what = f"{k} single runs one after another"
                    rate, how = measure_lockstep(data, case, device, steps=steps, warmup=warmup)
                    log.info("lockstep %s: %.1f frame pairs/s (%s)", case, rate, how)
                    rows.append(lockstep_row(case, rate, how, base, what, dev, data.seq_len))
    return rows


def single_graph_row(data: SyntheticData, width: float, amp: bool, eager: float,
                     device: torch.device, dev: str, steps: int, warmup: int) -> Row:
    """One single-model paper-mode process with its step replayed as a CUDA graph."""
    rate = measure_singles(data, width, device, k=1, steps=steps, warmup=warmup, amp=amp,
                           graphs=True)
    precision = "bf16" if amp else "fp32"
    return Row(f"single process, paper mode, width {width}, {precision}, CUDA graphs", rate,
               "frame pairs/s", dev, f"the same, eager: {fmt(eager)} frame pairs/s",
               rate / eager, notes="amoc.train.graphs.GraphedStep of amoc.train.loop."
                                   f"single_step, T={data.seq_len}; eager if capture fails")
