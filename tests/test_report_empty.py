"""An experiment switched off (``datasets: []``) gives an empty, labelled figure, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from amoc.report import collect, figures


@pytest.fixture(scope="module")
def empty_summary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the workflow's collect rule writes for an experiment without cells."""
    root = tmp_path_factory.mktemp("empty")
    summary = root / "summary.parquet"
    assert collect.main(["--experiment", "fig6c", "--rows", str(root / "rows.parquet"),
                         "--summary", str(summary)]) == 0
    return summary


@pytest.mark.parametrize("figure", figures.FIGURES)
def test_empty_experiment_draws_a_labelled_placeholder(empty_summary, tmp_path, figure):
    out = tmp_path / figure
    assert figures.main(["--summary", str(empty_summary), "--figure", figure,
                         "--experiment", "fig6c", "--out", str(out)]) == 0
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"
