"""Rows of ``amoc.bench`` beyond training: feature extraction, evaluation, flow, cache RAM."""

from __future__ import annotations

import logging
import math
import time

import numpy as np
import torch

from amoc.bench.rows import GIB, Row, cpu_name, fmt, ram_bytes, torch_threads
from amoc.data.cache import FRAME_SHAPE
from amoc.data.synthwalk.identity import build_identities
from amoc.data.synthwalk.render import render_sequence, sample_camera, sample_sequence
from amoc.eval.features import extract_features
from amoc.eval.flow_error import endpoint_errors, offline_estimates
from amoc.eval.metrics import evaluate
from amoc.eval.reference import reference_evaluate, synthetic_mars_problem
from amoc.flow.accuracy import measure_methods
from amoc.flow.methods import FLOW_METHODS
from amoc.models import DEFAULT_MOTION_WIDTH, ModelConfig, build_model
from amoc.train.loop import synchronize

log = logging.getLogger(__name__)

EVAL_THREADS = 2  # the evaluation target is stated for 2 CPU cores
# iLIDS-VID: 600 sequences of 23..192 frames; ~73 on average is assumed (~43,800 frames).
ILIDS_FRAMES = 600 * 73
MARS_FRAMES = 1_191_003
# (queries, gallery, protocol, distance noise): noise 0 ranks almost perfectly (mAP ~0.99, the
# easy case); noise 1 gives a realistic ranking (mAP ~0.87) and is the figure to quote.
MARS_PROBLEMS = (
    (1980, 12180, "official", 1.0), (1980, 9330, "torchreid", 1.0),
    (1980, 12180, "official", 0.0), (1980, 9330, "torchreid", 0.0),
)


def _features_rate(model: torch.nn.Module, sequences: list[np.ndarray], length: int, tta: str,
                   device: torch.device, batch_size: int) -> float:
    """Sequences per second of one ``extract_features`` call."""
    synchronize(device)
    started = time.perf_counter()
    extract_features(model, sequences, test_length=length, tta=tta, device=device,
                     batch_size=batch_size)
    synchronize(device)
    return len(sequences) / (time.perf_counter() - started)


def feature_rows(device: torch.device, dev_name: str, *, length: int, n_seqs: int,
                 batch_size: int) -> list[Row]:
    """``extract_features`` at default width with "crops8_flip" and "flip" TTA vs "none".

    The "none" call runs twice; the first is an untimed warm-up.
    """
    torch.manual_seed(0)
    model = build_model(ModelConfig(num_classes=100, motion_width=DEFAULT_MOTION_WIDTH))
    model = model.to(device)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(n_seqs + length, *FRAME_SHAPE), dtype=np.uint8)
    sequences = [frames[i:i + length] for i in range(n_seqs)]  # (L, H, W, 3) views
    _features_rate(model, sequences, length, "none", device, batch_size)
    base = _features_rate(model, sequences, length, "none", device, batch_size)
    rows = []
    for tta, copies in (("crops8_flip", 16), ("flip", 2)):
        rate = _features_rate(model, sequences, length, tta, device, batch_size)
        rows.append(Row(
            f"feature extraction, TTA {tta} ({copies} copies), width {DEFAULT_MOTION_WIDTH}",
            rate, "sequences/s", dev_name, f"TTA none: {fmt(base)} sequences/s", rate / base,
            notes=f"amoc.eval.features.extract_features, {length} frames, {n_seqs} sequences, "
                  f"batch {batch_size}, fp32"))
    return rows


def benchmark_mars_sized(
    n_query: int = 1980, n_gallery: int = 12180, seed: int = 0, protocol: str = "official",
    repeats: int = 3, noise: float = 0.0,
) -> dict:
    """Time `amoc.eval.metrics.evaluate` against the per-query NumPy reference on a synthetic MARS-like problem.

    Args:
        n_query: number of queries (MARS: 1980).
        n_gallery: gallery size (MARS official: 12180, torchreid: 9330).
        seed: seed of the synthetic problem (`synthetic_mars_problem`).
        protocol: one of `PROTOCOLS`.
        repeats: timed runs of `amoc.eval.metrics.evaluate` (the best counts); the reference runs once.
        noise: standard deviation of Gaussian noise added to the distances. The synthetic problem
            ranks almost perfectly (mAP ~0.99), which favours the sparse path; noise 1 gives
            mAP ~0.87 and noise 3 ~0.1 (official, 1980 x 12180), timing the bucketed path.

    Returns:
        dict with n_query, n_gallery, protocol, ours_s (best run), reference_s (one run), speedup
        (reference_s / ours_s) and agree (same CMC and mAP to 1e-9).
    """
    problem = synthetic_mars_problem(n_query, n_gallery, seed)
    if noise:
        rng = np.random.default_rng(seed + 1)
        problem["distmat"] += (noise * rng.normal(size=problem["distmat"].shape)).astype(np.float32)
    ours_s, ours = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        ours = evaluate(**problem, protocol=protocol)
        ours_s = min(ours_s, time.perf_counter() - start)
    start = time.perf_counter()
    ref_cmc, ref_map, _, _ = reference_evaluate(**problem, protocol=protocol)
    reference_s = time.perf_counter() - start
    agree = bool(np.allclose(ours[0], ref_cmc, atol=1e-9) and abs(ours[1] - ref_map) < 1e-9)
    return {
        "n_query": n_query, "n_gallery": n_gallery, "protocol": protocol, "ours_s": ours_s,
        "reference_s": reference_s, "speedup": reference_s / ours_s, "agree": agree,
    }


def eval_rows(problems: tuple[tuple[int, int, str, float], ...]) -> list[Row]:
    """``amoc.eval.metrics.evaluate`` vs the per-query NumPy reference, on EVAL_THREADS threads."""
    rows = []
    with torch_threads(EVAL_THREADS):
        name = cpu_name()
        for n_query, n_gallery, protocol, noise in problems:
            r = benchmark_mars_sized(n_query, n_gallery, protocol=protocol, noise=noise)
            agree = "agree" if r["agree"] else "DISAGREE with the reference"
            rows.append(Row(
                f"evaluation {n_query} x {n_gallery} ({protocol}, noise {noise:g})", r["ours_s"],
                "s", name,
                f"per-query NumPy reference: {fmt(r['reference_s'])} s", r["speedup"],
                target="<= 0.5 s and >= 20x (2 cores, MARS size)",
                notes=f"amoc.bench.evaluation.benchmark_mars_sized: best of 3 vs 1 reference run; CMC "
                      f"and mAP {agree}; ratio = reference / ours"))
    return rows


def _measure_flow(method: str, n_pairs: int) -> dict | str:
    """``measure_methods`` row of one method, or the reason it cannot run here."""
    try:
        return measure_methods([method], n_pairs)[0]
    except AttributeError as err:  # OpenCV without the contrib modules (cv2.optflow, ximgproc)
        return f"skipped ({err})"


def synthwalk_epe(n_pairs: int, seed: int = 0) -> dict[str, float]:
    """EPE (64 x 32 grid px) of zero flow and every method against synthwalk's exact flow.

    Pairs come from freshly rendered synthwalk sequences of both cameras (not from a run).
    """
    frames, truth, rows = [], [], []
    for identity in build_identities(max(2, n_pairs // 4), seed, 0.5):
        cam = identity.pid % 2
        style = sample_camera(np.random.default_rng([seed, 0, cam]), cam)
        rng = np.random.default_rng([seed, 3, identity.pid, cam])
        clip, flow = render_sequence(identity, style, sample_sequence(rng, 5, 5), rng)
        rows += [sum(len(f) for f in frames) + t for t in range(len(clip) - 1)]
        frames.append(clip)
        truth.append(flow)
    frames_all, rows_all = np.concatenate(frames), np.asarray(rows[:n_pairs])
    truth_rows = np.concatenate(truth)[rows_all]
    out = {"zero": endpoint_errors(np.zeros_like(truth_rows), truth_rows)[0]}
    for method in FLOW_METHODS:
        try:
            estimate, _ = offline_estimates(frames_all, rows_all, method)
        except AttributeError:  # OpenCV without the contrib modules
            continue
        out[method] = endpoint_errors(estimate, truth_rows)[0]
    return out


def flow_rows(n_pairs: int) -> list[Row]:
    """ms/pair and EPE of every registered flow method vs "lk" (else "dis") in the same run."""
    results = {m: _measure_flow(m, n_pairs) for m in FLOW_METHODS}
    truth = synthwalk_epe(n_pairs)
    measured = {m: r for m, r in results.items() if isinstance(r, dict)}
    base_name = next((m for m in ("lk", "dis") if m in measured), None)
    base = measured[base_name]["ms_per_pair"] if base_name else math.nan
    rows, name = [], cpu_name()
    for method, r in results.items():
        if isinstance(r, str):
            rows.append(Row(f"optical flow '{method}'", None, "ms/pair", name, "n/a", None,
                            notes="needs opencv-contrib", missing=r))
            continue
        rows.append(Row(
            f"optical flow '{method}'", r["ms_per_pair"], "ms/pair", name,
            f"'{base_name}': {fmt(base)} ms/pair", r["ms_per_pair"] / base,
            notes=f"EPE {r['epe']:.3f} px (max {r['epe_max']:.3f}) on {n_pairs} synthetic "
                  "128x64 pairs (amoc.flow.accuracy); vs synthwalk's exact flow "
                  f"{truth.get(method, math.nan):.3f} px of the 64x32 grid (zero flow "
                  f"{truth['zero']:.3f}) on {n_pairs} pairs; pre-trained motion nets: "
                  "results/tables/flow_error_*.md"))
    return rows


def cache_ram_rows() -> list[Row]:
    """RAM of the uint8 frame cache of iLIDS-VID and MARS, from the cache format."""
    per_frame = math.prod(FRAME_SHAPE)
    ram = ram_bytes()
    rows = []
    for dataset, n_frames, how in (
        ("iLIDS-VID", ILIDS_FRAMES, "600 sequences x ~73 frames assumed (23..192)"),
        ("MARS", MARS_FRAMES, "1,191,003 frames"),
    ):
        size = n_frames * per_frame
        rows.append(Row(
            f"frame cache RAM, {dataset}", size / GIB, "GiB", "CPU RAM (estimate)",
            f"this machine's RAM: {fmt(ram / GIB)} GiB", size / ram,
            notes=f"{how} x {per_frame:,} B (uint8 128x64x3); np.load(mmap_mode='r') pages "
                  "it in on demand"))
    return rows
