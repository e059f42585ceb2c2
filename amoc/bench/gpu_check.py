"""The device check of issue 15 as one table: ``python -m amoc.bench.gpu_check [--device cuda]``.

Rows: paper-width training in paper and batched mode under fp32, bf16 (+ channels_last) and
bf16 + torch.compile; peak GPU memory; minutes for one 1000-epoch split of iLIDS-VID size
(150 training identities); aggregate throughput of 1, 2, 4 and 8 concurrent training jobs on
one GPU; CUDA vs CPU loss on the same batch; a resume from checkpoint on the device; feature
extraction and CMC/mAP on the device vs CPU (with the count of near-tied distances, see
``eval_row``); then lockstep training (issue 23, amoc.bench.lockstep): K = 1, 4, 10, 20, 40
paper-mode models at widths 1.0 and 0.125, fp32 and bf16, eager and CUDA graphs, each against
one single-model process of the same run, until ``BUDGET_S``. ``--tiny`` (the CPU dry run of
bench/gpu_check.sh) uses tiny sizes and a narrow net: it proves every path runs, nothing more.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from amoc.bench.lockstep import lockstep_rows
from amoc.bench.rows import GIB, Row, device_name, publish
from amoc.bench.train import SyntheticData, make_plan, measure_training, synthetic_data
from amoc.cli import run_command
from amoc.config import TrainConfig
from amoc.eval.features import extract_features, tta_distmat
from amoc.eval.metrics import evaluate
from amoc.models import PAPER_MOTION_WIDTH, ModelConfig, build_model
from amoc.train.batches import load_pairs
from amoc.train.inputs import resolve_device
from amoc.train.loop import pair_loss
from amoc.train.run import Run, fit

ILIDS_TRAIN_IDS, EPOCHS = 150, 1000


@dataclass(frozen=True)
class Sizes:
    """Work per measurement: training steps, clip length, identities, test sizes, job counts."""

    width: float
    seq_len: int
    batch_pairs: int
    paper_steps: int
    steps: int
    warmup: int
    epoch_ids: int
    jobs: tuple[int, ...]
    test_length: int
    lockstep_ks: tuple[int, ...]
    lockstep_steps: int


FULL = Sizes(PAPER_MOTION_WIDTH, 16, 64, 200, 40, 5, ILIDS_TRAIN_IDS, (1, 2, 4, 8), 128,
             (1, 4, 10, 20, 40), 20)
TINY = Sizes(0.125, 3, 2, 1, 1, 1, 2, (1, 2), 3, (1, 2), 2)
BUDGET_S = 400  # lockstep rows not started by then read "skipped" (bench/gpu_check.sh: 8 min)
LOCKSTEP_WIDTHS = (PAPER_MOTION_WIDTH, 0.125)
PRECISIONS = (("fp32", False, False), ("bf16 + channels_last", True, False),
              ("bf16 + channels_last + compile", True, True))


def training_rows(device: torch.device, dev: str, s: Sizes) -> list[Row]:
    """Frame pairs/s per mode and precision, then the peak GPU memory of each."""
    data = synthetic_data(max(4, s.epoch_ids), s.seq_len)
    rows, peaks = [], []
    for mode, pairs in (("paper", 1), ("batched", s.batch_pairs)):
        base = None
        for name, fast, compiled in PRECISIONS:
            figure = f"training {mode} ({pairs} pair/step), width {s.width}, {name}"
            if device.type != "cuda" and fast:
                rows.append(Row(figure, None, "frame pairs/s", dev, "n/a", None,
                                missing="skipped (bf16/compile rows are CUDA-only)"))
                continue
            res = measure_training(data, s.width, device, pairs_per_step=pairs,
                                   steps=s.steps if mode == "batched" else s.paper_steps,
                                   warmup=s.warmup, fast=fast, compile_model=compiled)
            base = base or res.frame_pairs_per_s
            target = {"paper": ">= 4,000 (fp32)", "batched": ">= 40,000"}[mode]
            rows.append(Row(figure, res.frame_pairs_per_s, "frame pairs/s", dev,
                            f"{mode} fp32", res.frame_pairs_per_s / base, target=target,
                            notes="amoc.bench.train.measure_training (real loop), T="
                                  f"{s.seq_len}"))
            peaks.append((figure, res.peak_bytes))
    for figure, peak in peaks:
        rows.append(Row(f"peak GPU memory, {figure}", None if peak is None else peak / GIB,
                        "GiB", dev, "n/a", None, missing="n/a (CPU)"))
    return rows


def epoch_row(device: torch.device, dev: str, s: Sizes) -> Row:
    """One real paper-mode epoch (2N pairs, fp32) at iLIDS-VID's N, times 1000 epochs."""
    data = synthetic_data(s.epoch_ids, s.seq_len)
    res = measure_training(data, s.width, device, pairs_per_step=1, steps=2 * s.epoch_ids,
                           warmup=s.warmup, fast=False)
    pairs = 2 * s.epoch_ids * 2 * (s.seq_len - 1)
    minutes = EPOCHS * pairs / res.frame_pairs_per_s / 60
    return Row(f"one {EPOCHS}-epoch split, {s.epoch_ids} training ids, paper mode fp32",
               minutes, "minutes", dev, "n/a", None, target="<= 4 (batched)",
               notes=f"one epoch of {2 * s.epoch_ids} pairs timed, x {EPOCHS}")


def concurrency_rows(device: torch.device, dev: str, s: Sizes, tiny: bool) -> list[Row]:
    """n training jobs (subprocesses) on one device at once: the sum of their rates."""
    rows, single = [], None
    for n in s.jobs:
        start_at = time.time() + 2.0 + 0.5 * n
        cmd = [sys.executable, "-m", "amoc.bench.gpu_check", "worker", "--device", device.type,
               "--start-at", str(start_at)] + (["--tiny"] if tiny else [])
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(n)]
        rates = [json.loads(p.communicate(timeout=600)[0].splitlines()[-1])["rate"]
                 for p in procs]
        total = sum(rates)
        single = single or total
        rows.append(Row(f"aggregate training, {n} concurrent job(s), paper mode fp32", total,
                        "frame pairs/s", dev, "1 job", total / single,
                        notes=f"per job: {', '.join(f'{r:,.0f}' for r in rates)}"))
    return rows


def worker(device: torch.device, s: Sizes, start_at: float) -> float:
    """One concurrency job: wait for the common start, then time paper-mode training."""
    data = synthetic_data(max(4, s.epoch_ids), s.seq_len)
    time.sleep(max(0.0, start_at - time.time()))
    return measure_training(data, s.width, device, pairs_per_step=1, steps=s.paper_steps,
                            warmup=s.warmup, fast=False).frame_pairs_per_s


def loss_row(device: torch.device, dev: str, s: Sizes) -> Row:
    """The Eq. 11 loss of one batch, same weights, on the device vs on the CPU (fp32)."""
    data = synthetic_data(4, s.seq_len)
    plan = make_plan(data, s.batch_pairs)
    losses = []
    for where in (torch.device("cpu"), device):
        torch.manual_seed(0)
        model = build_model(ModelConfig(num_classes=data.train.num_classes,
                                        motion_width=s.width)).to(where).eval()
        batch = load_pairs(data.train, plan, np.arange(len(plan)), data.frames, None,
                           s.seq_len, where)
        with torch.no_grad():
            losses.append(float(pair_loss(model, batch, 2.0).total))
    return Row(f"loss on one batch, {device.type} vs cpu", abs(losses[1] - losses[0]),
               "|difference|", dev, f"cpu loss {losses[0]:.6g}", None, target="<= 1e-4",
               notes="same seed, same batch, fp32, eval mode")


def resume_row(device: torch.device, dev: str, s: Sizes, data: SyntheticData) -> Row:
    """2 epochs straight vs 1 epoch, checkpoint, resume, 1 more: largest weight difference."""
    cfg = TrainConfig.from_dict({"mode": "batched", "batch_pairs": s.batch_pairs, "epochs": 2,
                                 "seq_len": s.seq_len, "checkpoint_every": 1, "device":
                                 device.type, "amp": False, "seed": 0})
    mcfg = ModelConfig(num_classes=data.train.num_classes, motion_width=s.width)
    with tempfile.TemporaryDirectory() as tmp:
        partial = Path(tmp) / "model.pt.partial"
        straight = Run(asdict(mcfg), lambda: build_model(mcfg), cfg, device)
        fit(straight, data.train, data.frames, None, partial)
        resumed = Run(asdict(mcfg), lambda: build_model(mcfg), cfg, device)
        resumed.resume(partial)
        fit(resumed, data.train, data.frames, None, Path(tmp) / "again.partial")
    diff = max(float((a - b).abs().max()) for a, b in
               zip(straight.model.state_dict().values(), resumed.model.state_dict().values(),
                   strict=True) if a.is_floating_point())
    return Row(f"resume from checkpoint on {device.type}", diff, "max |weight diff|", dev,
               "2 epochs without a break", None, target="0 (cuDNN may differ ~1e-6)",
               notes="amoc.train.run.Run.save/resume + fit, batched fp32")


def identity_frames(n_ids: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """Two sequences per identity: the identity's random 16 x 8 block pattern plus noise.

    The pattern survives the per-frame standardisation (amoc.models.preprocess), so even an
    untrained net gives persons clearly different features and few near-equal distances.

    Shape:
        (2 n_ids, length, 128, 64, 3) uint8, identity i at rows 2i and 2i + 1.
    """
    patterns = rng.integers(0, 256, (n_ids, 16, 8, 3)).repeat(8, axis=1).repeat(8, axis=2)
    seqs = patterns.repeat(2, axis=0)[:, None] + rng.normal(0, 12, (2 * n_ids, length, 128, 64, 3))
    return np.clip(seqs, 0, 255).astype(np.uint8)


def near_ties(dist: np.ndarray, tol: float) -> int:
    """Pairs of a query's gallery distances closer than ``tol`` (their order is rounding)."""
    return int((np.diff(np.sort(dist, axis=1), axis=1) < tol).sum())


def eval_row(device: torch.device, dev: str, s: Sizes) -> Row:
    """Features and CMC/mAP computed on the device vs on the CPU for the same sequences.

    The 2026-12-04 H200 run read "CMC/mAP DIFFER" with features within 7.9e-6: that check fed
    an untrained net i.i.d. random pixels, whose pooled features are all nearly the same, so the
    ranking was decided by ties between near-equal distances: tie-breaking, most likely, not a
    divergence (features that agree to 1e-5 cannot reorder distances further apart than that).
    Now the persons differ (``identity_frames``), and the row counts the near-ties (adjacent
    sorted distances closer than 10x the largest CPU/device distance difference): "agree" is
    expected with 0 ties; a difference with ties > 0 is tie-breaking, without ties a bug.
    """
    torch.manual_seed(0)
    model = build_model(ModelConfig(num_classes=8, motion_width=s.width))
    frames = identity_frames(8, s.test_length, np.random.default_rng(0))
    pids, results = np.repeat(np.arange(8), 2), []
    for where in (torch.device("cpu"), device):
        feats = extract_features(model.to(where), list(frames), test_length=s.test_length,
                                 tta="flip", device=where)
        dist = tta_distmat(feats[0::2], feats[1::2]).cpu().double().numpy()
        results.append((feats.cpu(), dist, evaluate(dist, pids[0::2], pids[1::2], np.zeros(8),
                                                    np.ones(8))))
    (f0, d0, (cmc0, map0)), (f1, d1, (cmc1, map1)) = results
    same = np.allclose(cmc0, cmc1) and abs(map0 - map1) < 1e-6
    tol = 10 * float(np.abs(d0 - d1).max()) + 1e-9
    ties = near_ties(d0, tol)
    verdict = "agree" if same else "differ by tie-breaking" if ties else "DIFFER (no ties: a bug)"
    return Row(f"evaluation on {device.type}: features vs cpu", float((f0 - f1).abs().max()),
               "max |feature diff|", dev, f"CMC/mAP {verdict}; {ties} near-tied distances "
               f"(gap < {tol:.1e})", None,
               notes="amoc.eval.features.extract_features (flip TTA) + amoc.eval.metrics.evaluate"
                     " on 8 persons with distinct patterns")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m amoc.bench.gpu_check",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("role", nargs="?", default="table", choices=("table", "worker"))
    parser.add_argument("--device", default="cuda", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--tiny", action="store_true", help="dry-run sizes (CPU, seconds)")
    parser.add_argument("--start-at", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help="also write the table here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Print the device table (or, as a worker, one JSON rate line)."""
    args = parse_args(argv)
    device, sizes = resolve_device(args.device), TINY if args.tiny else FULL
    if args.role == "worker":
        print(json.dumps({"rate": worker(device, sizes, args.start_at)}))
        return 0
    dev, started = device_name(device), time.perf_counter()
    rows = training_rows(device, dev, sizes) + [epoch_row(device, dev, sizes)]
    rows += concurrency_rows(device, dev, sizes, args.tiny)
    rows += [loss_row(device, dev, sizes),
             resume_row(device, dev, sizes, synthetic_data(4, sizes.seq_len)),
             eval_row(device, dev, sizes)]
    rows += lockstep_rows(synthetic_data(max(4, sizes.epoch_ids), sizes.seq_len), device, dev,
                          ks=sizes.lockstep_ks,
                          widths=(sizes.width,) if args.tiny else LOCKSTEP_WIDTHS,
                          steps=sizes.lockstep_steps, warmup=sizes.warmup,
                          deadline=started + BUDGET_S)
    return publish(rows, args.out)


if __name__ == "__main__":
    raise SystemExit(run_command(main))
