"""Result-row schema, atomic writes, reading and aggregation (hand-made rows, not real results)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from amoc.atomic import write_atomic
from amoc.report.results import (
    COLUMNS,
    LengthMetrics,
    ResultsError,
    aggregate,
    make_rows,
    read_rows,
    read_summary,
    select,
    validate_rows,
    write_rows,
    write_summary,
)


def rows_for(split: int, rank1: float, variant: str = "amoc_e2e_epic", lengths=(128,)) -> pd.DataFrame:
    """Test input: one model on one split with a flat-then-rising CMC starting at `rank1`."""
    cmc = np.linspace(rank1, 1.0, 20)
    per_length = {n: LengthMetrics(cmc, 0.5, 10, 10, 0.25) for n in lengths}
    return make_rows(
        experiment="table1", dataset="synthwalk", variant=variant, split=split,
        protocol="standard", seed=split, config_hash="cafe", code_version="0.1.0",
        device="cpu", train_seconds=2.0, per_length=per_length,
        library_versions={"numpy": np.__version__},
    )


def test_make_rows_has_schema_columns_and_one_row_per_length():
    df = rows_for(0, 0.5, lengths=(1, 128, 16))
    assert list(df.columns) == [*COLUMNS, "library_versions"]
    assert df["test_length"].tolist() == [1, 16, 128]
    assert df["cmc_1"].iloc[0] == pytest.approx(0.5)


def test_short_cmc_padded_only_for_small_gallery():
    small = make_rows(
        experiment="e", dataset="d", variant="v", split=0, protocol="p", seed=0,
        config_hash="h", code_version="c", device="cpu", train_seconds=0.0,
        per_length={4: LengthMetrics([0.5, 0.75, 1.0], math.nan, 3, 3, 0.0)},
    )
    assert small["cmc_20"].iloc[0] == 1.0 and math.isnan(small["mAP"].iloc[0])
    with pytest.raises(ResultsError, match="gallery has 30"):
        make_rows(
            experiment="e", dataset="d", variant="v", split=0, protocol="p", seed=0,
            config_hash="h", code_version="c", device="cpu", train_seconds=0.0,
            per_length={4: LengthMetrics([0.5, 0.75], 0.1, 3, 30, 0.0)},
        )


def test_missing_column_error_names_column_and_file():
    df = rows_for(0, 0.5).drop(columns=["cmc_7", "seed"])
    with pytest.raises(ResultsError, match=r"rows/x\.parquet: missing column\(s\) 'cmc_7', 'seed'"):
        validate_rows(df, source="rows/x.parquet")


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("cmc_1", 50.0, "fractions"),
        ("cmc_20", 0.1, "non-decreasing"),
        ("split", 0.5, "'split' must be integer"),
        ("dataset", "", "'dataset' must hold non-empty strings"),
        ("mAP", 2.0, "mAP"),
        ("library_versions", "not json", "JSON"),
    ],
)
def test_invalid_values_are_rejected(column, value, message):
    df = rows_for(0, 0.5)
    df[column] = value
    with pytest.raises(ResultsError, match=message):
        validate_rows(df, source="f.parquet")


def test_write_then_read_roundtrip(tmp_path):
    path = tmp_path / "rows" / "split0.parquet"
    write_rows(rows_for(0, 0.5, lengths=(1, 128)), path)
    back = read_rows([path])
    assert len(back) == 2 and back["test_length"].tolist() == [1, 128]


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    path = tmp_path / "split0.parquet"

    def broken(self, target, **kwargs):
        with open(target, "wb") as handle:
            handle.write(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", broken)
    with pytest.raises(OSError, match="disk full"):
        write_rows(rows_for(0, 0.5), path)
    assert list(tmp_path.iterdir()) == []


def test_invalid_rows_are_not_written(tmp_path):
    path = tmp_path / "split0.parquet"
    with pytest.raises(ResultsError, match="missing column"):
        write_rows(rows_for(0, 0.5).drop(columns=["device"]), path)
    assert not path.exists()


def test_read_rows_names_unreadable_and_invalid_files(tmp_path):
    garbage = tmp_path / "garbage.parquet"
    write_atomic(garbage, lambda p: p.write_bytes(b"not parquet"), checksum=True)
    with pytest.raises(ResultsError, match="garbage.parquet: cannot read"):
        read_rows([garbage])
    partial = tmp_path / "partial.parquet"
    write_atomic(partial, lambda p: rows_for(0, 0.5).drop(columns=["n_query"]).to_parquet(p),
                 checksum=True)
    with pytest.raises(ResultsError, match="partial.parquet: missing column\\(s\\) 'n_query'"):
        read_rows([partial])
    with pytest.raises(ResultsError, match="missing.parquet"):
        read_rows([tmp_path / "missing.parquet"])


def test_aggregate_mean_std_count():
    df = pd.concat([rows_for(0, 0.5), rows_for(1, 0.7), rows_for(2, 0.6), rows_for(0, 0.4, "solo")])
    summary = aggregate(df).set_index("variant")
    e2e = summary.loc["amoc_e2e_epic"]
    assert e2e["n_splits"] == 3 and e2e["splits"] == "0,1,2"
    assert e2e["cmc_1_mean"] == pytest.approx(0.6)
    assert e2e["cmc_1_std"] == pytest.approx(0.1)  # sample std (ddof=1) of 0.5, 0.7, 0.6
    assert e2e["cmc_20_std"] == pytest.approx(0.0)
    assert summary.loc["solo", "n_splits"] == 1 and math.isnan(summary.loc["solo", "cmc_1_std"])


def test_aggregate_keeps_test_lengths_apart_and_rejects_duplicates():
    df = pd.concat([rows_for(0, 0.5, lengths=(1, 128)), rows_for(1, 0.7, lengths=(1, 128))])
    assert sorted(aggregate(df)["test_length"]) == [1, 128]
    with pytest.raises(ResultsError, match="duplicate"):
        aggregate(pd.concat([df, rows_for(1, 0.7)]))


def test_summary_is_written_as_parquet_and_csv(tmp_path):
    paths = []
    for split, rank1 in enumerate((0.5, 0.7)):
        paths.append(tmp_path / f"split{split}.parquet")
        write_rows(rows_for(split, rank1, lengths=(1, 128)), paths[-1])
    out = tmp_path / "summary" / "summary.parquet"
    write_summary(aggregate(read_rows(paths)), out)
    summary = read_summary(out)
    assert len(summary) == 2 and (tmp_path / "summary" / "summary.csv").stat().st_size > 0


def test_select_explains_what_is_missing():
    summary = aggregate(rows_for(0, 0.5, lengths=(1, 128)))
    assert len(select(summary, experiment="table1", test_length=128)) == 1
    with pytest.raises(ResultsError, match=r"available: \[1, 128\]"):
        select(summary, experiment="table1", test_length=7)
    with pytest.raises(ResultsError, match="no results for experiment 'nope'"):
        select(summary, experiment="nope")
