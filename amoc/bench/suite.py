"""The rows of the speed benchmark: what is measured, at which sizes, in table order.

The CLI (``amoc.bench.__main__``) only picks the sizes and prints; keeping the measurements
here lets the tests and other callers build the table without argument parsing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from amoc.bench.evaluation import MARS_PROBLEMS, cache_ram_rows, eval_rows, feature_rows, flow_rows
from amoc.bench.lockstep import lockstep_rows
from amoc.bench.rows import GIB, Row, device_name, fmt
from amoc.bench.train import (
    SyntheticData,
    TrainResult,
    measure_pipeline,
    measure_training,
    synthetic_data,
)
from amoc.models import (
    DEFAULT_MOTION_WIDTH,
    PAPER_MOTION_WIDTH,
    ModelConfig,
    build_model,
    count_parameters,
    gflops_per_pair,
)

SECTIONS = ("train", "features", "eval", "flow", "lockstep")
LOCKSTEP_WIDTHS = {"cpu": (0.125,), "cuda": (PAPER_MOTION_WIDTH, 0.125)}  # 0.125: config.yaml
WIDTHS = (PAPER_MOTION_WIDTH, DEFAULT_MOTION_WIDTH)
# The planning anchor: an AMOC-shaped net at FlowNetS width, 128x64, forward + backward of one
# frame pair (the figure the GPU targets and amoc.plan's H100 rates were set with).
ANCHOR_GFLOP = 4.17
NUM_CLASSES = 150  # iLIDS-VID training identities: the classifier size for the counts
TARGETS = {("paper", PAPER_MOTION_WIDTH): ">= 4,000 on one H100/H200",
           ("batched", PAPER_MOTION_WIDTH): ">= 40,000 on one H100/H200"}


@dataclass(frozen=True)
class Sizes:
    """How much work each measurement does (steps at default width = ``narrow`` x steps)."""

    seq_len: int
    batch_pairs: int
    paper_steps: int
    batched_steps: int
    warmup: int
    narrow: int
    n_ids: int
    pipeline_steps: int
    test_length: int
    feature_seqs: int
    feature_batch: int
    eval_problems: tuple[tuple[int, int, str], ...]
    flow_pairs: int
    lockstep_ks: tuple[int, ...]
    lockstep_steps: int
    lockstep_seq_len: int


QUICK = Sizes(seq_len=4, batch_pairs=2, paper_steps=1, batched_steps=1, warmup=1, narrow=1,
              n_ids=8, pipeline_steps=2, test_length=4, feature_seqs=1, feature_batch=1,
              eval_problems=((200, 1200, "official", 1.0), (200, 930, "torchreid", 0.0)),
              flow_pairs=2, lockstep_ks=(2,), lockstep_steps=2, lockstep_seq_len=3)
CPU_FULL = Sizes(seq_len=16, batch_pairs=4, paper_steps=2, batched_steps=1, warmup=1, narrow=2,
                 n_ids=32, pipeline_steps=5, test_length=128, feature_seqs=1, feature_batch=1,
                 eval_problems=MARS_PROBLEMS, flow_pairs=16, lockstep_ks=(10,),
                 lockstep_steps=4, lockstep_seq_len=8)
CUDA_FULL = Sizes(seq_len=16, batch_pairs=64, paper_steps=100, batched_steps=20, warmup=5,
                  narrow=2, n_ids=256, pipeline_steps=20, test_length=128, feature_seqs=64,
                  feature_batch=32, eval_problems=MARS_PROBLEMS, flow_pairs=16,
                  lockstep_ks=(1, 4, 10, 20, 40), lockstep_steps=20, lockstep_seq_len=16)


def model_rows() -> tuple[list[Row], dict[float, float]]:
    """Parameter count and GFLOP per frame pair at both widths; also returns the GFLOP."""
    params, gflops = {}, {}
    for width in WIDTHS:
        cfg = ModelConfig(num_classes=NUM_CLASSES, motion_width=width)
        params[width], gflops[width] = count_parameters(build_model(cfg)), gflops_per_pair(cfg)
    p1, g1 = params[PAPER_MOTION_WIDTH], gflops[PAPER_MOTION_WIDTH]
    where, note = "n/a (counted)", f"amoc variant, {NUM_CLASSES} classes"
    rows = [
        Row(f"parameters, width {PAPER_MOTION_WIDTH}", p1, "parameters", where,
            "itself (baseline of width 0.25)", 1.0, notes=note),
        Row(f"GFLOP per frame pair, width {PAPER_MOTION_WIDTH}", g1, "GFLOP", where,
            f"GPU planning anchor net: {ANCHOR_GFLOP} GFLOP", g1 / ANCHOR_GFLOP,
            notes="amoc.models.gflops_per_pair: forward + backward of one training step"),
    ]
    d = DEFAULT_MOTION_WIDTH
    rows += [
        Row(f"parameters, width {d}", params[d], "parameters", where,
            f"width {PAPER_MOTION_WIDTH}: {fmt(p1)}", params[d] / p1, notes=note),
        Row(f"GFLOP per frame pair, width {d}", gflops[d], "GFLOP", where,
            f"width {PAPER_MOTION_WIDTH}: {fmt(g1)} GFLOP", gflops[d] / g1,
            notes="amoc.models.gflops_per_pair"),
    ]
    return rows, gflops


def precision(device: torch.device, compile_model: bool) -> str:
    """What the batched mode's fast path amounts to on ``device``."""
    if device.type != "cuda":
        return "fp32 + channels_last (bf16 autocast is CUDA-only in amoc.train)"
    return "bf16 autocast + channels_last" + (" + torch.compile" if compile_model else "")


def training_rows(data: SyntheticData, device: torch.device, dev_name: str, sizes: Sizes,
                  gflops: dict[float, float], compile_model: bool
                  ) -> tuple[list[Row], dict[tuple[str, float], TrainResult]]:
    """Paper-faithful and batched training at both widths; batched / paper-faithful ratios."""
    results, rows = {}, []
    for width in WIDTHS:
        factor = 1 if width == PAPER_MOTION_WIDTH else sizes.narrow
        for mode, pairs, steps in (("paper", 1, sizes.paper_steps),
                                   ("batched", sizes.batch_pairs, sizes.batched_steps)):
            batched = mode == "batched"
            res = measure_training(data, width, device, pairs_per_step=pairs,
                                   steps=steps * factor, warmup=sizes.warmup, fast=batched,
                                   compile_model=compile_model and batched)
            results[mode, width] = res
            paper = results["paper", width].frame_pairs_per_s
            rows.append(Row(
                f"training, {'batched' if batched else 'paper-faithful'} ({pairs} pair"
                f"{'s' if pairs > 1 else ''}/step), width {width}", res.frame_pairs_per_s,
                "frame pairs/s", dev_name,
                f"paper-faithful: {fmt(paper)} frame pairs/s" if batched
                else "itself (baseline of the batched row)", res.frame_pairs_per_s / paper,
                target=TARGETS.get((mode, width), ""),
                notes=f"amoc.train.loop.train_one_epoch (real loop incl. clip loading), amoc "
                      f"variant, T={sizes.seq_len}, SGD, "
                      f"{precision(device, compile_model) if batched else 'fp32'}, "
                      f"{steps * factor} timed steps after {sizes.warmup}; "
                      f"{res.frame_pairs_per_s * gflops[width] / 1000:.3g} TFLOP/s"))
    return rows, results


def gpu_memory_rows(device: torch.device, dev_name: str,
                    results: dict[tuple[str, float], TrainResult]) -> list[Row]:
    """Peak GPU memory of each training measurement vs the GPU's memory ("n/a (CPU)" on CPU)."""
    total = torch.cuda.get_device_properties(device).total_memory if device.type == "cuda" else 0
    rows = []
    for (mode, width), res in results.items():
        figure = f"peak GPU memory, {mode} training, width {width}"
        if res.peak_bytes is None:
            rows.append(Row(figure, None, "GiB", dev_name, "n/a", None, missing="n/a (CPU)"))
            continue
        rows.append(Row(figure, res.peak_bytes / GIB, "GiB", dev_name,
                        f"GPU memory: {fmt(total / GIB)} GiB", res.peak_bytes / total,
                        notes="torch.cuda.max_memory_allocated over the timed steps"))
    return rows


def pipeline_rows(data: SyntheticData, device: torch.device, dev_name: str, sizes: Sizes,
                  results: dict[tuple[str, float], TrainResult]) -> list[Row]:
    """``load_pairs`` rate per step size vs the fastest training rate of that mode."""
    rows = []
    for mode, pairs in (("paper", 1), ("batched", sizes.batch_pairs)):
        rate = measure_pipeline(data, device, pairs_per_step=pairs, steps=sizes.pipeline_steps)
        train = max(r.frame_pairs_per_s for (m, _), r in results.items() if m == mode)
        rows.append(Row(
            f"data pipeline, {pairs} pair{'s' if pairs > 1 else ''}/step", rate,
            "frame pairs/s", dev_name, f"fastest {mode} training: {fmt(train)} frame pairs/s",
            rate / train, target="ratio >= 1 (pipeline never below training)",
            notes=f"amoc.train.batches.load_pairs: gather T={sizes.seq_len} clips from an "
                  f"in-memory uint8 (N, 128, 64, 3) cache + to float + augment on {device.type}"))
    return rows


def collect_rows(device: torch.device, sizes: Sizes, sections: list[str],
                 compile_model: bool) -> list[Row]:
    """Run the chosen sections in table order."""
    dev_name, rows = device_name(device), []
    if "train" in sections:
        counted, gflops = model_rows()
        data = synthetic_data(sizes.n_ids, sizes.seq_len)
        trained, results = training_rows(data, device, dev_name, sizes, gflops, compile_model)
        rows += counted + trained + pipeline_rows(data, device, dev_name, sizes, results)
        rows += gpu_memory_rows(device, dev_name, results)
    if "features" in sections:
        rows += feature_rows(device, dev_name, length=sizes.test_length, n_seqs=sizes.feature_seqs,
                             batch_size=sizes.feature_batch)
    if "eval" in sections:
        rows += eval_rows(sizes.eval_problems)
    if "flow" in sections:
        rows += flow_rows(sizes.flow_pairs)
    if "lockstep" in sections:
        data = synthetic_data(sizes.n_ids, sizes.lockstep_seq_len)
        rows += lockstep_rows(data, device, dev_name, ks=sizes.lockstep_ks,
                              widths=LOCKSTEP_WIDTHS[device.type], steps=sizes.lockstep_steps,
                              warmup=5 if device.type == "cuda" else 2)
    return rows + cache_ram_rows()
