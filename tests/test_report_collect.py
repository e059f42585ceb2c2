"""amoc.report.collect: per-model rows labelled with the experiment's names, mean/std by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from amoc.report.collect import main
from amoc.report.results import LengthMetrics, make_rows, read_summary, write_rows

# (dataset, model label as evaluated, split) -> rank-1 at test lengths 8 and 128
RANK1 = {("ilidsvid", "amoc", 0): (0.2, 0.5), ("ilidsvid", "amoc", 1): (0.4, 0.8),
         ("ilidsvid", "amoc", 2): (0.3, 0.5), ("prid2011", "rcn", 0): (0.1, 0.6)}


def _rows_file(root: Path, dataset: str, variant: str, split: int) -> Path:
    # CMC values are shares of the 10 queries, as an evaluation gives them
    per_length = {n: LengthMetrics(np.round(np.linspace(r1, 1.0, 20) * 10) / 10, r1 / 2, 10, 10,
                                   0.5)
                  for n, r1 in zip((8, 128), RANK1[(dataset, variant, split)], strict=True)}
    path = root / dataset / variant / f"split{split}.parquet"
    write_rows(make_rows(experiment="adhoc", dataset=dataset, variant=variant, split=split,
                         protocol="official", seed=split, config_hash=f"h{split}",
                         code_version="0.1", device="cpu", train_seconds=2.0,
                         per_length=per_length), path)
    return path


@pytest.fixture()
def files(tmp_path: Path) -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = {}
    for dataset, variant, split in RANK1:
        out.setdefault((dataset, variant), []).append(
            str(_rows_file(tmp_path / "eval", dataset, variant, split)))
    return out


def test_collect_labels_rows_and_aggregates_over_splits(tmp_path: Path, files) -> None:
    rows_out, summary_out = tmp_path / "rows" / "t1.parquet", tmp_path / "summary" / "t1.parquet"
    assert main(["--experiment", "table1",
                 "--member", "amoc_e2e_epic", "ilidsvid", *files[("ilidsvid", "amoc")],
                 "--member", "baseline_lk", "prid2011", *files[("prid2011", "rcn")],
                 "--rows", str(rows_out), "--summary", str(summary_out)]) == 0
    rows = pd.read_parquet(rows_out)
    assert len(rows) == 2 * 4 and (rows["experiment"] == "table1").all()
    assert sorted(set(zip(rows["dataset"], rows["variant"], strict=True))) == [
        ("ilidsvid", "amoc_e2e_epic"), ("prid2011", "baseline_lk")]
    assert sorted(rows.loc[rows["variant"] == "amoc_e2e_epic", "split"].unique()) == [0, 1, 2]
    summary = read_summary(summary_out)
    assert summary_out.with_suffix(".csv").stat().st_size > 0
    cell = summary[(summary["variant"] == "amoc_e2e_epic") & (summary["test_length"] == 128)]
    values = [RANK1[("ilidsvid", "amoc", s)][1] for s in range(3)]
    assert cell["n_splits"].item() == 3 and cell["experiment"].item() == "table1"
    assert cell["cmc_1_mean"].item() == pytest.approx(np.mean(values))
    assert cell["cmc_1_std"].item() == pytest.approx(np.std(values, ddof=1))  # 0.1732
    assert cell["mAP_mean"].item() == pytest.approx(np.mean(values) / 2)
    short = summary[(summary["variant"] == "amoc_e2e_epic") & (summary["test_length"] == 8)]
    assert short["cmc_1_mean"].item() == pytest.approx(0.3)
    one = summary[summary["variant"] == "baseline_lk"]
    assert one["n_splits"].tolist() == [1, 1] and one["cmc_1_std"].isna().all()
    assert len(summary) == 4


def test_collect_refuses_rows_of_another_dataset(tmp_path: Path, files) -> None:
    with pytest.raises(ValueError, match="not from dataset prid2011"):
        main(["--experiment", "x", "--member", "amoc", "prid2011",
              *files[("ilidsvid", "amoc")], "--rows", str(tmp_path / "r.parquet"),
              "--summary", str(tmp_path / "s.parquet")])


def test_collect_without_cells_writes_empty_outputs(tmp_path: Path) -> None:
    assert main(["--experiment", "table4", "--rows", str(tmp_path / "r.parquet"),
                 "--summary", str(tmp_path / "s.parquet")]) == 0
    assert pd.read_parquet(tmp_path / "r.parquet").empty
    assert read_summary(tmp_path / "s.parquet").empty
