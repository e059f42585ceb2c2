"""Training curves of one experiment: ``python -m amoc.report.curves`` -> PREFIX.png/.pdf.

Reads the per-epoch JSON that ``amoc.train.run --log-json`` writes for every model and split
(contrastive, identity and total loss, frame pairs per second) and, for end-to-end models, the
pre-training JSON of their motion net (loss and held-out EPE over iterations). One line per
variant: the mean over trainings (split, seed), with a ±std band where there is more than one.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from amoc.cli import run_command
from amoc.report.figures import _curve, _style, save_figure, variant_colors
from amoc.report.results import ResultsError

log = logging.getLogger(__name__)

# (history key, panel title) of the per-epoch training JSON
TRAIN_PANELS = (("loss", "total loss (Eq. 11)"), ("contrastive", "contrastive loss (Eq. 10)"),
                ("identity", "identity loss (both sequences)"),
                ("frame_pairs_per_s", "throughput (frame pairs/s)"))
PRETRAIN_PANELS = (("loss", "motion pre-training loss (Eq. 14)"),
                   ("heldout_epe", "held-out EPE (px, 64x32 grid)"))
COLUMNS = 2


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
    colors = variant_colors(list(groups))
    for ax, (key, title) in zip(axes, panels, strict=True):
        for name, runs in groups.items():
            if all(key in rec for r in runs for rec in r):
                xs, mean, std = mean_band(runs, x, key)
                _curve(ax, xs, mean, std, len(runs), name, colors[name])
        ax.set_title(title)
        ax.set_xlabel(x)


def plot_curves(train: dict[str, list[list[dict]]], pretrain: dict[str, list[list[dict]]],
                out: str | os.PathLike, title: str) -> list[Path]:
    """Training panels, plus pre-training panels when any model was pre-trained, two per row.

    Two columns keep each panel and its legend readable when the report shrinks the image to
    its page width (a single row of six panels did not).

    Args:
        train: variant -> per-training lists of epoch records.
        pretrain: label -> lists of iteration records (one per pre-training job).
    """
    if not train:
        raise ResultsError(f"{title}: no training curves to plot")
    panels = [(train, "epoch", p) for p in TRAIN_PANELS]
    panels += [(pretrain, "iteration", p) for p in PRETRAIN_PANELS] if pretrain else []
    rows = -(-len(panels) // COLUMNS)
    with _style():
        fig = Figure(figsize=(5.2 * COLUMNS, 3.4 * rows), layout="constrained")
        axes = fig.subplots(rows, COLUMNS, squeeze=False).ravel()
        for ax, (groups, x, panel) in zip(axes, panels):
            _draw([ax], groups, x, [panel])
            ax.legend(fontsize="x-small")
        for ax in axes[len(panels):]:
            ax.set_axis_off()
        fig.suptitle(title)
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
                f"{args.experiment}: training curves (mean ± std over trainings)")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_command(main))
