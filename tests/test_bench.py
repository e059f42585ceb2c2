"""``amoc.bench --quick`` prints every row with finite positive numbers (so it cannot rot)."""

from __future__ import annotations

import io
import math
from contextlib import redirect_stdout
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from amoc.bench import evaluation
from amoc.bench.__main__ import main as bench_main
from amoc.bench.evaluation import benchmark_mars_sized
from amoc.bench.rows import COLUMNS, Row, format_table, torch_threads
from amoc.bench.train import frame_pairs, make_plan, synthetic_data
from amoc.eval.metrics import PROTOCOLS
from amoc.flow.methods import FLOW_METHODS

EXPECTED = [
    "parameters, width 1.0", "GFLOP per frame pair, width 1.0", "parameters, width 0.25",
    "GFLOP per frame pair, width 0.25",
    "training, paper-faithful (1 pair/step), width 1.0",
    "training, batched (2 pairs/step), width 1.0",
    "training, paper-faithful (1 pair/step), width 0.25",
    "training, batched (2 pairs/step), width 0.25",
    "data pipeline, 1 pair/step", "data pipeline, 2 pairs/step",
    "peak GPU memory, paper training, width 1.0", "peak GPU memory, batched training, width 1.0",
    "peak GPU memory, paper training, width 0.25", "peak GPU memory, batched training, width 0.25",
    "feature extraction, TTA crops8_flip (16 copies), width 0.25",
    "feature extraction, TTA flip (2 copies), width 0.25",
    "evaluation 200 x 1200 (official, noise 1)", "evaluation 200 x 930 (torchreid, noise 0)",
    *(f"optical flow '{method}'" for method in FLOW_METHODS),
    "lockstep K=2, paper mode, width 0.125, fp32",
    "frame cache RAM, iLIDS-VID", "frame cache RAM, MARS",
]
HAS_CONTRIB = hasattr(cv2, "optflow") and hasattr(cv2, "ximgproc")


@pytest.fixture(scope="module")
def quick_table(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """(printed text, --out file) of one quick run on the CPU."""
    out = tmp_path_factory.mktemp("bench") / "table.md"
    printed = io.StringIO()
    with redirect_stdout(printed):
        assert bench_main(["--quick", "--device", "cpu", "--out", str(out)]) == 0
    return printed.getvalue(), out


def _number(cell: str) -> float:
    return float(cell.replace(",", ""))


def _cells(table: str) -> dict[str, dict[str, str]]:
    lines = table.strip().splitlines()
    assert lines[0] == "| " + " | ".join(COLUMNS) + " |"
    rows = [dict(zip(COLUMNS, (c.strip() for c in line.strip("|").split(" | ")), strict=True))
            for line in lines[2:]]
    return {row["figure"]: row for row in rows}


def test_quick_table_has_every_row_with_finite_positive_numbers(
        quick_table: tuple[str, Path]) -> None:
    table, _ = quick_table
    rows = _cells(table)
    assert list(rows) == EXPECTED
    for figure, row in rows.items():
        assert row["unit"] and row["device"] and row["baseline (same run)"], figure
        if figure.startswith("peak GPU memory"):
            assert row["value"] == "n/a (CPU)", figure
            continue
        if figure.startswith("optical flow") and row["value"].startswith("skipped"):
            assert not HAS_CONTRIB, figure  # only OpenCV without contrib may skip a method
            continue
        for key in ("value", "ratio"):
            x = _number(row[key])
            assert math.isfinite(x) and x > 0, (figure, key, row[key])


def test_quick_table_is_printed_alone_and_written(quick_table: tuple[str, Path]) -> None:
    printed, out = quick_table
    assert out.read_text() == printed and printed.count("\n") == len(EXPECTED) + 2


def test_format_table_escapes_pipes_and_marks_missing_values() -> None:
    row = Row("a|b", None, "s", "cpu", "n/a", None, missing="n/a (CPU)")
    line = format_table([row]).splitlines()[2]
    assert "a\\|b" in line and "| n/a (CPU) |" in line
    assert "| 12,346 |" in format_table([Row("x", 12345.6, "u", "d", "b", 0.5)])


def test_make_plan_spans_epochs_and_counts_frame_pairs() -> None:
    data = synthetic_data(n_ids=3, seq_len=5)
    plan = make_plan(data, 10)  # one epoch of 3 identities has 6 pairs
    assert len(plan) == 10 and plan.seqs.shape == (10, 2) and plan.same[:6:2].all()
    assert data.frames.shape == (6 * (5 + 8), 128, 64, 3) and data.frames.dtype == np.uint8
    assert frame_pairs(1, 16) == 30


def test_torch_threads_restores_the_thread_count() -> None:
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("noise", [0.0, 2.0])
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_benchmark_small(protocol: str, noise: float) -> None:
    out = benchmark_mars_sized(n_query=40, n_gallery=300, seed=1, protocol=protocol,
                               noise=noise)
    assert out["agree"] and out["ours_s"] > 0 and out["reference_s"] > 0


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_benchmark_reports_disagreement(protocol: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`agree` compares the two evaluators' outputs: an off-by-a-little mAP makes it False."""
    real = evaluation.evaluate

    def off(*args, **kw):
        cmc, mean_ap = real(*args, **kw)
        return cmc, mean_ap + 1e-6

    monkeypatch.setattr(evaluation, "evaluate", off)
    out = benchmark_mars_sized(n_query=20, n_gallery=100, seed=1, protocol=protocol, repeats=1)
    assert out["agree"] is False
