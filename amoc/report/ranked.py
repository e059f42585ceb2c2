"""Ranked results: probes and their top-k gallery matches as frame strips (torchreid's
``visualize_ranked_results`` for sequences): ``python -m amoc.report.ranked`` -> PREFIX.png/.pdf.

The trained model ranks the split's gallery for every probe, exactly as in evaluation (same
test length, TTA and distance). Shown: ``n_probes`` probes, first those whose appearance twin is
in the gallery (synthwalk's ``twin_pairs``: same clothes, different gait, so only motion tells
them apart), then the rest in index order. Match borders: green = same person, orange = the
probe's twin, red = another person.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from amoc.cli import run_command
from amoc.config import EvalConfig
from amoc.data.cache import FrameCache
from amoc.eval.evaluate import _sequences, probe_gallery
from amoc.eval.features import extract_features, tta_distmat
from amoc.plugins.model import inference_model
from amoc.report.figures import save_figure
from amoc.train.checkpoint import read_checkpoint
from amoc.train.inputs import needs_offline_flow, open_flow, parse_json_arg, read_split

log = logging.getLogger(__name__)
BORDER = {"match": "#2ca02c", "twin": "#ff7f0e", "other": "#d62728"}
STRIP_FRAMES = 3


def read_twins(manifest: str | os.PathLike | None) -> dict[int, int]:
    """pid -> its appearance twin, from a synthwalk manifest (empty without one)."""
    if manifest is None:
        return {}
    pairs = json.loads(Path(manifest).read_text()).get("twin_pairs", [])
    return {a: b for p in pairs for a, b in (p, p[::-1])}


def pick_probes(probe_pids: np.ndarray, gallery_pids: np.ndarray, twins: dict[int, int],
                n: int) -> list[int]:
    """Probe rows to show: those with their twin in the gallery first (at most half), then
    the others, each group in index order."""
    in_gallery = set(gallery_pids.tolist())
    with_twin = [i for i, p in enumerate(probe_pids) if twins.get(int(p)) in in_gallery]
    rest = [i for i in range(len(probe_pids)) if i not in with_twin]
    chosen = with_twin[:max(n // 2, n - len(rest))]
    return chosen + rest[:n - len(chosen)]


def strip(frames: np.ndarray) -> np.ndarray:
    """``STRIP_FRAMES`` evenly spaced frames of a sequence side by side: (H, k*W, 3) uint8."""
    picks = np.linspace(0, len(frames) - 1, STRIP_FRAMES).round().astype(int)
    return np.concatenate([frames[i] for i in picks], axis=1)


def match_kind(probe_pid: int, gallery_pid: int, twins: dict[int, int]) -> str:
    if gallery_pid == probe_pid:
        return "match"
    return "twin" if twins.get(probe_pid) == gallery_pid else "other"


def plot_ranked(probes: list[np.ndarray], probe_pids: list[int],
                matches: list[list[tuple[np.ndarray, int, float]]], twins: dict[int, int],
                out: str | os.PathLike, title: str) -> list[Path]:
    """One row per probe: its strip, then its top-k matches (strip, pid, distance) by rank."""
    k = len(matches[0])
    fig = Figure(figsize=(1.6 * (k + 1), 1.35 * len(probes) + 0.4))
    axes = fig.subplots(len(probes), k + 1, squeeze=False)
    for row, (probe, pid, ranked) in enumerate(zip(probes, probe_pids, matches, strict=True)):
        cells = [(probe, f"probe {pid}" + (f" (twin {twins[pid]})" if pid in twins else ""),
                  "black")]
        cells += [(s, f"#{r + 1} {g} d={d:.2f}", BORDER[match_kind(pid, g, twins)])
                  for r, (s, g, d) in enumerate(ranked)]
        for ax, (image, label, color) in zip(axes[row], cells, strict=True):
            ax.imshow(image, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(label, fontsize=5, pad=2)
            for spine in ax.spines.values():
                spine.set_edgecolor(color)
                spine.set_linewidth(2.5)
    fig.suptitle(f"{title} — green: same person, orange: appearance twin, red: other",
                 fontsize=7)
    fig.tight_layout(pad=0.3)
    return save_figure(fig, out)


def rank_gallery(model: torch.nn.Module, cache: FrameCache, flow: np.ndarray | None,
                 probe: pd.DataFrame, gallery: pd.DataFrame, cfg: EvalConfig) -> torch.Tensor:
    """Probe x gallery distances at the longest test length, as the evaluation computes them.

    Shape: probe (P rows), gallery (G rows) -> (P, G).
    """
    common = {"test_length": max(cfg.test_lengths), "tta": cfg.tta, "device": "cpu",
              "translate": cfg.translate, "batch_size": cfg.batch_size}
    qf = extract_features(model, _sequences(probe, cache.frames), _sequences(probe, flow),
                          take=cfg.probe_frames, **common)
    gf = extract_features(model, _sequences(gallery, cache.frames), _sequences(gallery, flow),
                          take=cfg.gallery_frames, **common)
    return tta_distmat(qf, gf)


def main(argv: list[str] | None = None) -> int:
    """CLI: rank one split's gallery with a trained model and draw the top matches."""
    parser = argparse.ArgumentParser(prog="amoc ranked", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--cache", required=True)
    parser.add_argument("--split", required=True)
    parser.add_argument("--flow-store")
    parser.add_argument("--eval-config", default="{}")
    parser.add_argument("--twins", help="synthwalk manifest (synthwalk.json) with twin_pairs")
    parser.add_argument("--probes", type=int, default=6)
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--title", default="ranked results")
    parser.add_argument("--out", required=True, help="output prefix: writes PREFIX.png/.pdf")
    args = parser.parse_args(argv)
    cfg = EvalConfig.from_dict(parse_json_arg(args.eval_config, "--eval-config"))
    payload = read_checkpoint(args.model, "amoc-model")
    model = inference_model(payload, args.model, torch.device("cpu"), batch=cfg.batch_size,
                            seq_len=max(2, min(cfg.test_lengths)))
    cache = FrameCache(args.cache)
    flow = open_flow(cache, args.flow_store, needs_offline_flow(payload["model_config"]))
    probe, gallery = probe_gallery(cache.index, read_split(args.split)["test_pids"], cfg.protocol)
    twins = read_twins(args.twins)
    pids, gallery_pids = probe["pid"].to_numpy(), gallery["pid"].to_numpy()
    rows = pick_probes(pids, gallery_pids, twins, args.probes)
    # Only the shown probes are ranked: their features do not depend on the other probes'.
    dist = rank_gallery(model, cache, flow, probe.iloc[rows], gallery, cfg).numpy()
    order = np.argsort(dist, axis=1, kind="stable")[:, :args.top_k]
    seqs = _sequences(gallery, cache.frames)
    matches = [[(strip(seqs[g]), int(gallery_pids[g]), float(dist[i, g])) for g in gs]
               for i, gs in enumerate(order)]
    probe_seqs = _sequences(probe, cache.frames)
    plot_ranked([strip(probe_seqs[r]) for r in rows], [int(pids[r]) for r in rows], matches,
                twins, args.out, args.title)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_command(main))
