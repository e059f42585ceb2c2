"""Figures: every kind writes a non-empty PNG and PDF (hand-made rows as inputs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from amoc.report import figures
from amoc.report.results import LengthMetrics, ResultsError, aggregate, make_rows, write_summary

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
