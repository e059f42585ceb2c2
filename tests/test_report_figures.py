"""Figures: every kind writes a non-empty PNG and PDF (hand-made rows as inputs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib.colors import to_rgb

from amoc.report import figures
from amoc.report.results import (
    LengthMetrics,
    ResultsError,
    aggregate,
    make_rows,
    read_summary,
    write_summary,
)

LENGTHS = (1, 2, 4, 8, 16, 32, 64, 128)
VARIANTS = ("baseline_lk", "amoc_e2e_epic", "margin_1", "margin_2", "emb_64", "emb_128")


def variant_rows(dataset: str, variant: str, split: int) -> pd.DataFrame:
    """Test input: rank-1 grows with test length; CMC rises linearly to 1 at rank 20."""
    per_length = {
        n: LengthMetrics(np.linspace(0.3 + 0.05 * np.log2(n) + 0.02 * split, 1.0, 20), 0.3, 8, 8, 0.1)
        for n in LENGTHS
    }
    return make_rows(
        experiment="fig6", dataset=dataset, variant=variant, split=split, protocol="standard",
        seed=split, config_hash="h", code_version="0.1.0", device="cpu", train_seconds=1.0,
        per_length=per_length,
    )


@pytest.fixture(scope="module")
def summary_path(tmp_path_factory) -> str:
    frames = [variant_rows(d, v, s) for d in ("ilidsvid", "synthwalk") for v in VARIANTS
              for s in (0, 1)]
    frames.append(variant_rows("synthwalk", "amoc_max", 0))  # one split: no band
    path = tmp_path_factory.mktemp("summary") / "summary.parquet"
    write_summary(aggregate(pd.concat(frames)), path)
    return str(path)


def assert_png_and_pdf(prefix) -> None:
    png, pdf = prefix.with_suffix(".png"), prefix.with_suffix(".pdf")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 1000


@pytest.mark.parametrize("figure", figures.FIGURES)
def test_cli_writes_png_and_pdf(summary_path, tmp_path, figure):
    prefix = tmp_path / "out" / figure
    args = ["--summary", summary_path, "--figure", figure, "--experiment", "fig6",
            "--out", str(prefix)]
    if figure == "fig6a":
        args += ["--dataset", "ilidsvid"]
    assert figures.main(args) == 0
    assert_png_and_pdf(prefix)
    assert sorted(p.name for p in prefix.parent.iterdir()) == [f"{figure}.pdf", f"{figure}.png"]


def test_variant_values_parse_and_mapping():
    values = figures.variant_values(["amoc_margin_2", "margin_0.5", "emb_64"], "margin")
    assert values == {"amoc_margin_2": 2.0, "margin_0.5": 0.5}
    assert figures.variant_values(["a", "b"], "emb", {"a": 64}) == {"a": 64.0}
    with pytest.raises(ResultsError, match="--x-map"):
        figures.variant_values(["baseline_lk"], "emb")


def test_fig5_panel(tmp_path):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (128, 64, 3), dtype=np.uint8) for _ in range(4)]
    offline = [rng.normal(size=(64, 32, 2)).astype(np.float32) for _ in range(4)]
    predicted = [f + 0.1 for f in offline]
    figures.plot_fig5(frames, offline, predicted, tmp_path / "fig5")
    assert_png_and_pdf(tmp_path / "fig5")


# --- content: what is drawn, read back from the matplotlib objects, against the summary -------

PAPER = yaml.safe_load((Path(figures.__file__).parent / "paper_reference.yaml").read_text())


@pytest.fixture()
def drawn(monkeypatch):
    """Run the figures CLI and hand back the Figure it saved, as drawn."""
    saved = []
    real = figures.save_figure
    monkeypatch.setattr(figures, "save_figure",
                        lambda fig, prefix: saved.append(fig) or real(fig, prefix))

    def run(summary_path, tmp_path, figure, *extra):
        assert figures.main(["--summary", summary_path, "--figure", figure, "--experiment",
                             "fig6", "--out", str(tmp_path / figure), *extra]) == 0
        (fig,) = saved
        return {ax.get_title().split(" (")[0]: ax for ax in fig.axes}  # dataset (n trainings)

    return run


def _lines(ax) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {line.get_label(): (np.asarray(line.get_xdata(), float),
                               np.asarray(line.get_ydata(), float)) for line in ax.lines}


def _band_of(ax, label: str):
    """(lower, upper) at each x of the band drawn in the colour of curve `label`, or None."""
    (line,) = [line for line in ax.lines if line.get_label() == label]
    colour = np.asarray(to_rgb(line.get_color()))
    bands = [b for b in ax.collections if np.allclose(b.get_facecolor()[0][:3], colour)]
    if not bands:
        return None
    (band,) = bands
    xy = band.get_paths()[0].vertices
    xs = np.asarray(line.get_xdata(), float)
    return (np.array([xy[np.isclose(xy[:, 0], x), 1].min() for x in xs]),
            np.array([xy[np.isclose(xy[:, 0], x), 1].max() for x in xs]))


def test_fig6a_curves_bands_and_paper_markers_are_the_summary(summary_path, tmp_path, drawn):
    axes = drawn(summary_path, tmp_path, "fig6a")
    summary = read_summary(summary_path)
    assert set(axes) == {"iLIDS-VID", "synthwalk"}
    for dataset, title in (("ilidsvid", "iLIDS-VID"), ("synthwalk", "synthwalk")):
        lines = _lines(axes[title])
        rows = summary[(summary["dataset"] == dataset) & (summary["experiment"] == "fig6")]
        variants = sorted(rows["variant"].unique())
        assert {k for k in lines if "paper" not in k} == set(variants)
        for variant in variants:
            part = rows[rows["variant"] == variant].sort_values("test_length")
            x, y = lines[variant]
            np.testing.assert_array_equal(x, part["test_length"].to_numpy(float))
            np.testing.assert_allclose(y, 100 * part["cmc_1_mean"].to_numpy())
            band = _band_of(axes[title], variant)
            if part["n_trainings"].max() > 1:
                assert band is not None, variant
                np.testing.assert_allclose(band[0], y - 100 * part["cmc_1_std"].to_numpy())
                np.testing.assert_allclose(band[1], y + 100 * part["cmc_1_std"].to_numpy())
    # the paper's rank-1 at the paper's test length, only where the paper reports the variant
    paper = {k: v for k, v in _lines(axes["iLIDS-VID"]).items() if "paper" in k}
    rows1 = PAPER["tables"]["table1"]["rows"]
    assert paper.keys() == {"amoc_e2e_epic paper (reported)", "baseline_lk paper (reported)"}
    for variant in ("amoc_e2e_epic", "baseline_lk"):
        x, y = paper[f"{variant} paper (reported)"]
        assert x.tolist() == [PAPER["protocol"]["test_length"]]
        assert y.tolist() == [rows1[variant]["ilidsvid"]["rank1"]]
    assert not [k for k in _lines(axes["synthwalk"]) if "paper" in k]  # not a paper dataset
    assert axes["iLIDS-VID"].get_xscale() == "log"


def test_cmc_figure_draws_all_twenty_ranks_and_no_band_for_one_split(summary_path, tmp_path,
                                                                      drawn):
    axes = drawn(summary_path, tmp_path, "cmc", "--test-length", "128")
    summary = read_summary(summary_path)
    rows = summary[(summary["test_length"] == 128) & (summary["dataset"] == "synthwalk")]
    lines = _lines(axes["synthwalk"])
    for row in rows.itertuples():
        x, y = lines[row.variant]
        assert x.tolist() == list(range(1, 21))
        np.testing.assert_allclose(y, [100 * getattr(row, f"cmc_{k}_mean") for k in range(1, 21)])
        band = _band_of(axes["synthwalk"], row.variant)
        assert (band is not None) is (row.n_trainings > 1), row.variant
        if band is not None:
            std = np.array([100 * getattr(row, f"cmc_{k}_std") for k in range(1, 21)])
            np.testing.assert_allclose(band[1] - band[0], 2 * std)
    x, y = _lines(axes["iLIDS-VID"])["amoc_e2e_epic paper (reported)"]
    reported = PAPER["tables"]["table1"]["rows"]["amoc_e2e_epic"]["ilidsvid"]
    assert x.tolist() == [1, 5, 10, 20]
    assert y.tolist() == [reported[f"rank{k}"] for k in (1, 5, 10, 20)]


def test_fig6c_plots_rank1_against_the_margin_with_the_paper_best(summary_path, tmp_path,
                                                                   drawn):
    axes = drawn(summary_path, tmp_path, "fig6c", "--test-length", "128")
    summary = read_summary(summary_path)
    for dataset, title in (("ilidsvid", "iLIDS-VID"), ("synthwalk", "synthwalk")):
        lines = _lines(axes[title])
        x, y = lines["ours"]  # margin_1, margin_2: the family without the margin part
        part = summary[(summary["dataset"] == dataset) & (summary["test_length"] == 128)
                       & summary["variant"].isin(["margin_1", "margin_2"])].sort_values("variant")
        assert x.tolist() == [1.0, 2.0]
        np.testing.assert_allclose(y, 100 * part["cmc_1_mean"].to_numpy())
    best = PAPER["figures"]["fig6"]["c_margin"]
    x, y = _lines(axes["iLIDS-VID"])["paper (reported, best)"]
    assert x.tolist() == [best["best_margin"]] and y.tolist() == [best["best_rank1"]]
    assert "paper (reported, best)" not in _lines(axes["synthwalk"])
