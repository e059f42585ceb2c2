"""Training curves of one experiment: ``python -m amoc.report.curves`` -> PREFIX.png/.pdf.

Reads the per-epoch JSON that ``amoc.train.run --log-json`` writes for every model and split
(contrastive, identity and total loss, frame pairs per second) and, for end-to-end models, the
pre-training JSON of their motion net (loss and held-out EPE over iterations). One line per
variant: the mean over splits, with a ±std band where there is more than one split.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from amoc.cli import run_command
from amoc.report.figures import _colors, _curve, _style, save_figure
from amoc.report.results import ResultsError

log = logging.getLogger(__name__)

# (history key, panel title) of the per-epoch training JSON
TRAIN_PANELS = (("loss", "total loss (Eq. 11)"), ("contrastive", "contrastive loss (Eq. 10)"),
                ("identity", "identity loss (both sequences)"),
                ("frame_pairs_per_s", "throughput (frame pairs/s)"))
PRETRAIN_PANELS = (("loss", "motion pre-training loss (Eq. 14)"),
                   ("heldout_epe", "held-out EPE (px, 64x32 grid)"))


def read_curve(path: str | os.PathLike, key: str) -> list[dict]:
    """The list of per-epoch (``epochs``) or per-iteration (``history``) records of a log JSON."""
    try:
        records = json.loads(Path(path).read_text())[key]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as err:
        raise ResultsError(f"{path}: not a training log with '{key}' ({err}); rerun its "
                           "training job") from err
    return records


def mean_band(runs: Sequence[list[dict]], x: str, y: str) -> tuple[np.ndarray, ...]:
    """x, mean and std of ``y`` over runs, on the x values every run has (a common prefix)."""
    n = min(len(r) for r in runs)
    values = np.array([[float(rec[y]) for rec in r[:n]] for r in runs])  # (runs, n)
    xs = np.array([float(rec[x]) for rec in runs[0][:n]])
    return xs, values.mean(axis=0), values.std(axis=0)


def _draw(axes: Sequence[Axes], groups: dict[str, list[list[dict]]], x: str,
          panels: Sequence[tuple[str, str]]) -> None:
    colors = _colors(pd.Series(list(groups)))
    for ax, (key, title) in zip(axes, panels, strict=True):
        for name, runs in groups.items():
            if all(key in rec for r in runs for rec in r):
                xs, mean, std = mean_band(runs, x, key)
                _curve(ax, xs, mean, std, len(runs), name, colors[name])
        ax.set_title(title, fontsize="small")
        ax.set_xlabel(x)


def plot_curves(train: dict[str, list[list[dict]]], pretrain: dict[str, list[list[dict]]],
                out: str | os.PathLike, title: str) -> list[Path]:
    """One row of training panels, plus pre-training panels when any model was pre-trained.

    Args:
        train: variant -> per-split lists of epoch records.
        pretrain: label -> lists of iteration records (one per pre-training job).
    """
    if not train:
        raise ResultsError(f"{title}: no training curves to plot")
    panels = len(TRAIN_PANELS) + (len(PRETRAIN_PANELS) if pretrain else 0)
    with _style():
        fig = Figure(figsize=(3.2 * panels, 3.4))
        axes = fig.subplots(1, panels, squeeze=False)[0]
        _draw(axes[:len(TRAIN_PANELS)], train, "epoch", TRAIN_PANELS)
        if pretrain:
            _draw(axes[len(TRAIN_PANELS):], pretrain, "iteration", PRETRAIN_PANELS)
        for ax in axes:
            ax.legend(fontsize="xx-small")
        fig.suptitle(title, fontsize="small")
        fig.tight_layout()
    return save_figure(fig, out)


def _groups(items: Sequence[Sequence[str]] | None, key: str) -> dict[str, list[list[dict]]]:
    """``--member NAME FILE...`` groups -> {NAME: [records of each FILE]}."""
    return {name: [read_curve(f, key) for f in files] for name, *files in items or []}


def main(argv: list[str] | None = None) -> int:
    """CLI: draw one experiment's training curves."""
    parser = argparse.ArgumentParser(prog="amoc curves", description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", required=True)
    parser.add_argument("--member", nargs="+", action="append", metavar=("VARIANT", "JSON"),
                        help="a variant and its training logs, one per split")
    parser.add_argument("--pretrain", nargs="+", action="append", metavar=("LABEL", "JSON"),
                        help="a motion-net pre-training log")
    parser.add_argument("--out", required=True, help="output prefix: writes PREFIX.png/.pdf")
    args = parser.parse_args(argv)
    plot_curves(_groups(args.member, "epochs"), _groups(args.pretrain, "history"), args.out,
                f"{args.experiment}: training curves (mean ± std over splits)")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_command(main))
