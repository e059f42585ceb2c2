"""Fig. 5 and Fig. 6 (a-d) of the paper, plus per-table CMC curves, as PNG + PDF.

Bands are the std over trainings (one split and seed each; only when a point averages more than
one), and each panel says how many trainings it shows. Where the paper states a number for a
plotted point, it is drawn as an 'x' labelled "paper (reported)". A variant keeps its colour in
every figure and run (``variant_colors``), and rank-1 axes span at least ``MIN_SPAN`` points so
that a one-query difference does not look like a cliff.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib
import matplotlib.colors
import matplotlib.style
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from amoc.atomic import write_atomic
from amoc.cli import run_command
from amoc.report.reference import dataset_label, find_paper_row, load_reference
from amoc.report.results import CMC_COLUMNS, ResultsError, read_summary, select

log = logging.getLogger(__name__)
FIGURES = ("fig6a", "fig6b", "fig6c", "fig6d", "cmc")
FIGURE_STYLE = ("seaborn-v0_8-whitegrid", "seaborn-v0_8-paper")  # matplotlib's bundled styles
PAPER_STYLE = {"marker": "x", "linestyle": "none", "markersize": 8}
MIN_SPAN = 10.0  # percentage points: the least y range of a rank-1 / matching-rate axis
PALETTE = (*matplotlib.colormaps["tab10"].colors, *matplotlib.colormaps["Dark2"].colors,
           *matplotlib.colormaps["Set1"].colors)
# The paper's Table I variants of config/config.yaml get the first colours, in paper order.
KNOWN_COLORS = ("baseline_lk", "baseline_epic", "amoc_nomotion", "amoc_offline_lk",
                "amoc_offline_epic", "amoc_e2e_lk", "amoc_e2e_epic", "tap_plugin")


def save_figure(fig: Figure, prefix: str | os.PathLike) -> list[Path]:
    """Write `prefix`.png and `prefix`.pdf atomically and close the figure."""
    prefix = Path(prefix)
    if prefix.suffix in (".png", ".pdf"):
        prefix = prefix.with_suffix("")
    paths = [prefix.parent / f"{prefix.name}.{ext}" for ext in ("png", "pdf")]
    for path in paths:
        fmt = path.suffix[1:]
        write_atomic(path, lambda tmp, fmt=fmt: fig.savefig(tmp, format=fmt, dpi=150,
                                                            bbox_inches="tight"))
    log.info("wrote %s", ", ".join(str(p) for p in paths))
    return paths


@contextmanager
def _style() -> Iterator[None]:
    """Seaborn's white-grid paper look (matplotlib ships it: no seaborn import, which costs each
    figure job 1.6 s) for one figure only; the global matplotlib state is left untouched."""
    with matplotlib.style.context(FIGURE_STYLE):
        yield


def _panels(rows: pd.DataFrame) -> tuple[Figure, list[tuple[str, Axes]]]:
    """One axes per dataset, side by side (a pyplot-free Figure: no global figure registry)."""
    datasets = sorted(rows["dataset"].unique())
    fig = Figure(figsize=(4.8 * len(datasets), 3.8), layout="constrained")
    axes = fig.subplots(1, len(datasets), squeeze=False)
    for dataset, ax in zip(datasets, axes[0]):
        n = int(trainings(rows[rows["dataset"] == dataset]).max())
        ax.set_title(f"{dataset_label(dataset)} ({n} training{'' if n == 1 else 's'})")
    return fig, list(zip(datasets, axes[0]))


def trainings(rows: pd.DataFrame) -> pd.Series:
    """Trainings (split x seed) behind each summary row (older summaries: its splits)."""
    return rows["n_trainings"] if "n_trainings" in rows else rows["n_splits"]


def _curve(ax: Axes, x, mean, std, n_trainings, label: str, color) -> None:
    """Line with a ±std band where the points average several trainings (values in %)."""
    x, mean, std = (np.asarray(a, dtype=float) for a in (x, mean, std))
    ax.plot(x, mean, marker="o", markersize=3, label=label, color=color)
    if np.max(n_trainings) > 1:
        ax.fill_between(x, mean - std, mean + std, alpha=0.2, color=color)


def variant_colors(names: Sequence[str] | pd.Series) -> dict[str, tuple]:
    """A colour per name that does not depend on the run's other names, so adding a variant
    leaves the other lines' colours alone: the paper's variants have fixed colours, any other
    name starts at the CRC32 of its name in the palette and, only if a name drawn with it
    already has that colour, takes the next free one (names in sorted order)."""
    out: dict[str, tuple] = {}
    taken: set[int] = set()
    ordered = sorted(set(names), key=lambda n: (n not in KNOWN_COLORS, n))
    for name in ordered:
        i = KNOWN_COLORS.index(name) if name in KNOWN_COLORS else zlib.crc32(name.encode())
        i %= len(PALETTE)
        while i in taken and len(taken) < len(PALETTE):
            i = (i + 1) % len(PALETTE)
        taken.add(i)
        out[name] = tuple(PALETTE[i])
    return out


def at_least_span(ax: Axes, span: float = MIN_SPAN, floor: float = 0.0) -> None:
    """Widen the y axis to ``span`` around its data (not below ``floor``)."""
    low, high = ax.get_ylim()
    if high - low < span:
        mid = (low + high) / 2
        low = max(floor, mid - span / 2)
        ax.set_ylim(low, low + span)


def _finish(fig: Figure, axes: list[tuple[str, Axes]], xlabel: str, ylabel: str) -> None:
    for _, ax in axes:
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        at_least_span(ax)
        ax.legend(fontsize="small")


def _plot(rows: pd.DataFrame, out: str | os.PathLike, draw, xlabel: str,
          ylabel: str, title: str | None = None) -> list[Path]:
    """One panel per dataset, drawn by `draw(rows, axes)`, labelled and saved as PNG + PDF."""
    with _style():
        fig, axes = _panels(rows)
        draw(rows, axes)
        _finish(fig, axes, xlabel, ylabel)
        if title:
            fig.suptitle(title, fontsize="small")
    return save_figure(fig, out)


def plot_rank1_vs_length(rows: pd.DataFrame, out: str | os.PathLike,
                         title: str | None = None) -> list[Path]:
    """Fig. 6(a): rank-1 against probe/gallery test length (log2 axis), one line per variant."""
    return _plot(rows, out, _draw_lengths, "test sequence length (frames)", "rank-1 (%)", title)


def _draw_lengths(rows: pd.DataFrame, axes: list[tuple[str, Axes]]) -> None:
    colors = variant_colors(rows["variant"])
    test_length = load_reference()["protocol"]["test_length"]
    for dataset, ax in axes:
        for variant, part in rows[rows["dataset"] == dataset].groupby("variant"):
            part = part.sort_values("test_length")
            _curve(ax, part["test_length"], 100 * part["cmc_1_mean"], 100 * part["cmc_1_std"],
                   trainings(part), variant, colors[variant])
            paper = find_paper_row(variant, dataset)
            if paper:
                ax.plot([test_length], [paper[1]["rank1"]], color=colors[variant],
                        label=f"{variant} paper (reported)", **PAPER_STYLE)
        lengths = sorted(rows["test_length"].unique())
        ax.set_xscale("log", base=2)
        ax.set_xticks(lengths, [str(n) for n in lengths])


def plot_cmc(rows: pd.DataFrame, out: str | os.PathLike, title: str | None = None) -> list[Path]:
    """CMC curves (rank 1..20), one per variant: Fig. 6(b) and the per-table curves."""
    return _plot(rows, out, _draw_cmc, "rank", "matching rate (%)", title)


def _draw_cmc(rows: pd.DataFrame, axes: list[tuple[str, Axes]]) -> None:
    colors = variant_colors(rows["variant"])
    ranks = np.arange(1, len(CMC_COLUMNS) + 1)
    for dataset, ax in axes:
        for variant, part in rows[rows["dataset"] == dataset].groupby("variant"):
            row = part.iloc[0]
            mean = [100 * row[f"{c}_mean"] for c in CMC_COLUMNS]
            std = [100 * row[f"{c}_std"] for c in CMC_COLUMNS]
            _curve(ax, ranks, mean, std, trainings(part).iloc[0], variant, colors[variant])
            paper = find_paper_row(variant, dataset)
            if paper:
                points = {int(k[4:]): v for k, v in paper[1].items() if k.startswith("rank")}
                ax.plot(list(points), list(points.values()), color=colors[variant],
                        label=f"{variant} paper (reported)", **PAPER_STYLE)
        ax.set_xticks([1, 5, 10, 15, 20])


def variant_values(
    variants: Sequence[str], key: str, mapping: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """x value per variant: `mapping` first, else parsed from a `{key}_{value}` name part."""
    pattern = re.compile(rf"(?:^|_){re.escape(key)}_(\d+(?:\.\d+)?)(?:_|$)")
    values = {}
    for variant in variants:
        match = pattern.search(variant)
        if mapping and variant in mapping:
            values[variant] = float(mapping[variant])
        elif match:
            values[variant] = float(match.group(1))
        else:
            log.warning("variant %r has no '%s_<value>' in its name; left out", variant, key)
    if not values:
        raise ResultsError(
            f"no variant names a '{key}_<value>' (got {sorted(variants)}); "
            "name variants like margin_2 / emb_128 or pass --x-map VARIANT=VALUE"
        )
    return values


def plot_rank1_vs_param(
    rows: pd.DataFrame, out: str | os.PathLike, key: str,
    mapping: Mapping[str, float] | None = None, log2: bool = False, title: str | None = None,
) -> list[Path]:
    """Fig. 6(c)/(d): rank-1 against a value carried by the variant (margin, embedding size)."""
    xs = variant_values(sorted(rows["variant"].unique()), key, mapping)
    pattern = re.compile(rf"(?:^|_){re.escape(key)}_[^_]+")
    rows = rows[rows["variant"].isin(xs)].assign(
        x=lambda d: d["variant"].map(xs),
        family=lambda d: [pattern.sub("", v).strip("_") or "ours" for v in d["variant"]],
    )
    return _plot(rows, out, lambda r, a: _draw_param(r, a, key, log2), key, "rank-1 (%)", title)


def _draw_param(rows: pd.DataFrame, axes: list[tuple[str, Axes]], key: str, log2: bool) -> None:
    """One line per variant family (the name without its `{key}_{value}` part)."""
    colors = variant_colors(rows["family"])
    fig6 = load_reference()["figures"]["fig6"]
    for dataset, ax in axes:
        for family, part in rows[rows["dataset"] == dataset].groupby("family"):
            part = part.sort_values("x")
            _curve(ax, part["x"], 100 * part["cmc_1_mean"], 100 * part["cmc_1_std"],
                   trainings(part), family, colors[family])
        if key == "margin" and dataset == fig6["dataset"]:
            best = fig6["c_margin"]
            ax.plot([best["best_margin"]], [best["best_rank1"]], color="black",
                    label="paper (reported, best)", **PAPER_STYLE)
        if log2:
            ax.set_xscale("log", base=2)
        ticks = sorted(rows.loc[rows["dataset"] == dataset, "x"].unique())
        ax.set_xticks(ticks, [f"{v:g}" for v in ticks])


def _max_magnitude(flow: np.ndarray) -> float:
    """Largest finite flow vector length of an (h, w, 2) field (0 if none is finite)."""
    norms = np.linalg.norm(np.asarray(flow, dtype=np.float64), axis=-1)
    finite = norms[np.isfinite(norms)]
    return float(finite.max()) if finite.size else 0.0


def colour_wheel(size: int = 65) -> np.ndarray:
    """The flow colour key: an RGB uint8 disc (size, size, 3) coding every direction at
    magnitudes 0 (centre, white) to 1 (rim), white outside; y points down, as in images."""
    from amoc.flow import flow_to_color

    r = np.linspace(-1.0, 1.0, size)
    u, v = np.meshgrid(r, r)
    image = flow_to_color(np.stack([u, v], axis=-1), max_flow=1.0)
    image[np.hypot(u, v) > 1.0] = 255
    return image


def plot_fig5(
    frames: Sequence[np.ndarray], offline_flow: Sequence[np.ndarray],
    predicted_flow: Sequence[np.ndarray], out_path: str | os.PathLike, title: str | None = None,
) -> list[Path]:
    """Fig. 5: rows = frames (H, W, 3) uint8 / offline flow / motion-net flow, (h, w, 2) each.

    Both flows of a column share one colour scale so their colours compare directly (the
    colour wheel on the right is the key: hue = direction, saturation = magnitude relative to
    the column's largest); ``title`` says which motion net, target and persons are shown.
    """
    from amoc.flow import flow_to_color

    if not len(frames) == len(offline_flow) == len(predicted_flow) or not frames:
        raise ValueError("need the same non-zero number of frames, offline and predicted flows")
    n = len(frames)
    # constrained layout keeps the title above the frames (tight_layout let it overlap them)
    fig = Figure(figsize=(1.1 * n + 1.2, 5.4), layout="constrained")
    grid = fig.add_gridspec(3, n + 1, width_ratios=[1.0] * n + [1.1])
    titles = ("frames", "offline flow", "motion net")
    if title:
        fig.suptitle(title, fontsize="small")
    for col in range(n):
        scale = max(_max_magnitude(f[col]) for f in (offline_flow, predicted_flow)) or 1.0
        images = (frames[col], flow_to_color(offline_flow[col], max_flow=scale),
                  flow_to_color(predicted_flow[col], max_flow=scale))
        for row, image in enumerate(images):
            ax = fig.add_subplot(grid[row, col])
            ax.imshow(image, interpolation="nearest", aspect="auto")
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(titles[row], fontsize="small")
    key = fig.add_subplot(grid[1:, n])
    key.imshow(colour_wheel(), interpolation="bilinear")
    key.set_axis_off()
    key.set_title("flow key\n(hue: direction,\nsaturation: speed)", fontsize="x-small")
    return save_figure(fig, out_path)


def plot_empty(figure: str, experiment: str, out: str | os.PathLike) -> list[Path]:
    """A labelled placeholder for an experiment with no cells (e.g. ``datasets: []``)."""
    with _style():
        fig = Figure(figsize=(4.8, 3.8))
        ax = fig.subplots()
        ax.set_axis_off()
        ax.text(0.5, 0.5, f"{figure} ({experiment}): no results\nthe experiment lists no "
                "datasets or cells", ha="center", va="center", transform=ax.transAxes)
    return save_figure(fig, out)


def _parse_map(items: Sequence[str] | None) -> dict[str, float] | None:
    if not items:
        return None
    try:
        return {k: float(v) for k, v in (item.split("=", 1) for item in items)}
    except ValueError as err:
        raise ResultsError(f"--x-map expects VARIANT=NUMBER items, got {list(items)}") from err


def main(argv: list[str] | None = None) -> int:
    """CLI: draw one figure from a summary written by `amoc collect`."""
    parser = argparse.ArgumentParser(prog="amoc figures", description=__doc__)
    parser.add_argument("--summary", required=True)
    parser.add_argument("--figure", required=True, choices=FIGURES)
    parser.add_argument("--experiment", required=True)
    parser.add_argument("--out", required=True, help="output prefix: writes PREFIX.png/.pdf")
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--protocol", default=None)
    parser.add_argument("--test-length", type=int, default=128, help="all but fig6a")
    parser.add_argument("--x-key", default=None, help="fig6c/d name part (margin / emb)")
    parser.add_argument("--x-map", nargs="+", default=None, metavar="VARIANT=VALUE")
    parser.add_argument("--ran", default=None,
                        help="what this run trained, for the title (the workflow passes it)")
    args = parser.parse_args(argv)
    summary = read_summary(args.summary)
    if summary.empty:  # written by amoc collect for an experiment without cells
        log.warning("experiment %r has no results; drawing an empty figure", args.experiment)
        plot_empty(args.figure, args.experiment, args.out)
        return 0
    length = None if args.figure == "fig6a" else args.test_length
    rows = select(summary, experiment=args.experiment, test_length=length,
                  protocol=args.protocol, dataset=args.dataset)
    title = f"{args.experiment}: {args.ran}" if args.ran else None
    if args.figure == "fig6a":
        plot_rank1_vs_length(rows, args.out, title)
    elif args.figure in ("fig6b", "cmc"):
        plot_cmc(rows, args.out, title)
    else:
        key = args.x_key or ("margin" if args.figure == "fig6c" else "emb")
        plot_rank1_vs_param(rows, args.out, key, _parse_map(args.x_map),
                            log2=args.figure == "fig6d", title=title)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_command(main))
