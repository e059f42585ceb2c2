"""Rank-1 learning curves of one experiment: ``python -m amoc.report.rank1_curves``.

Usage:
    python -m amoc.report.rank1_curves --experiment NAME --member VARIANT CURVES.json ...
        [--member ...] --out PREFIX

Reads the ``rank1`` that training recorded at its milestone epochs (``train.milestones``,
``amoc.train.milestones``) in each training's curves JSON, and draws rank-1 against epoch (log
axis), one line per variant: the mean over its trainings (split x seed) with a ±std band, or the
words "1 training" in the legend where there is only one. Why: a variant's rank at 4 epochs
need not be its rank at 400 (docs/results.md), and this shows where each training stands.
"""

from __future__ import annotations

import argparse
import logging

import numpy as np
from matplotlib.figure import Figure

from amoc.cli import run_command
from amoc.report.curves import read_curve
from amoc.report.figures import _curve, _style, save_figure, variant_colors
from amoc.report.results import ResultsError

log = logging.getLogger(__name__)


def milestones(path: str) -> dict[int, float]:
    """{epoch: rank-1 in %} recorded in one training's curves JSON."""
    return {int(rec["epoch"]): 100.0 * float(rec["rank1"])
            for rec in read_curve(path, "epochs") if "rank1" in rec}


def curve_of(paths: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Epochs every training recorded, and the mean and std of rank-1 (%) over trainings.

    Raises:
        ResultsError: the trainings share no milestone epoch.
    """
    runs = [milestones(p) for p in paths]
    epochs = sorted(set.intersection(*(set(r) for r in runs)))
    if not epochs:
        raise ResultsError(f"{', '.join(paths)}: no milestone epoch common to every training "
                           "(train.milestones must be > 0 and the same for all)")
    values = np.array([[r[e] for e in epochs] for r in runs])
    return np.array(epochs, float), values.mean(axis=0), values.std(axis=0)


def plot(experiment: str, members: dict[str, list[str]], out: str) -> None:
    """One panel: rank-1 against epoch per variant, saved as ``out``.png and .pdf."""
    colors = variant_colors(list(members))
    with _style():
        fig = Figure(figsize=(7.5, 4.5), layout="constrained")
        ax = fig.add_subplot()
        for variant, paths in members.items():
            if not any(milestones(p) for p in paths):
                continue
            epochs, mean, std = curve_of(paths)
            label = f"{variant} ({len(paths)} training{'s' if len(paths) > 1 else ''})"
            _curve(ax, epochs, mean, std, len(paths), label, colors[variant])
        ax.set_xscale("log")
        ax.set_xlabel("epoch (log scale; milestones fixed before training)")
        ax.set_ylabel("rank-1 (%) on the split's test persons")
        ax.set_title(f"{experiment}: rank-1 during training (mean ± std over trainings)")
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
        save_figure(fig, out)


def main(argv: list[str] | None = None) -> int:
    """Write PREFIX.png and PREFIX.pdf."""
    parser = argparse.ArgumentParser(prog="amoc rank1_curves", description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", required=True)
    parser.add_argument("--member", nargs="+", action="append", required=True,
                        metavar="VARIANT JSON", help="a variant and its trainings' curves JSON")
    parser.add_argument("--out", required=True, help="output prefix (.png and .pdf)")
    args = parser.parse_args(argv)
    members: dict[str, list[str]] = {}
    for group in args.member:
        if len(group) < 2:
            parser.error(f"--member {group[0]}: give the variant and at least one curves JSON")
        members.setdefault(group[0], []).extend(group[1:])
    plot(args.experiment, members, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_command(main))
