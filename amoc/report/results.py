"""Result rows (one per model x split x test length) and their aggregation over splits.

Every number in a table or figure comes from these Parquet files, so the schema is checked on
every write and read: a wrong file fails loudly here instead of becoming a wrong table cell.
Each file carries a SHA-256 sidecar (``amoc.integrity``) checked before it is decoded, and each
row's CMC must be what its own per-query ranks give (a flipped byte cannot pass both).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from amoc.atomic import write_atomic
from amoc.errors import AmocError
from amoc.integrity import verify_checksum

log = logging.getLogger(__name__)

MAX_RANK = 20
CMC_COLUMNS = tuple(f"cmc_{k}" for k in range(1, MAX_RANK + 1))
METRIC_COLUMNS = (*CMC_COLUMNS, "mAP")
STRING_COLUMNS = (
    "experiment", "dataset", "variant", "protocol", "config_hash", "code_version", "device",
)
INT_COLUMNS = ("split", "test_length", "n_query", "n_gallery", "seed")
FLOAT_COLUMNS = (*METRIC_COLUMNS, "train_seconds", "eval_seconds")
COLUMNS = (
    "experiment", "dataset", "variant", "split", "test_length", "protocol", *METRIC_COLUMNS,
    "n_query", "n_gallery", "seed", "config_hash", "code_version", "device",
    "train_seconds", "eval_seconds",
)
# Per-query lists (same order in every row of a dataset's probe set): what paired statistics
# over queries (amoc.report.claims) need. first_match: 1-based rank of the first correct match.
QUERY_COLUMNS = ("query_pids", "first_match")
OPTIONAL_COLUMNS = ("library_versions", *QUERY_COLUMNS)
GROUP_KEYS = ("experiment", "dataset", "variant", "test_length", "protocol")
SUMMARY_STATS = tuple(f"{col}_{stat}" for col in METRIC_COLUMNS for stat in ("mean", "std"))
# What tables and figures read; a training is one (split, seed).
SUMMARY_COLUMNS = (*GROUP_KEYS, "n_trainings", "n_splits", *SUMMARY_STATS)


class ResultsError(AmocError):
    """A result-row or summary file is missing, unreadable or does not match the schema."""


class LengthMetrics(NamedTuple):
    """What one evaluation at one test length produced."""

    cmc: Sequence[float]  # fractions at ranks 1..n (n >= 20, or the whole gallery if smaller)
    mAP: float  # fraction; NaN where not computed
    n_query: int
    n_gallery: int
    eval_seconds: float
    query_pids: Sequence[int] = ()
    first_match: Sequence[int] = ()  # per query: rank of the first correct match, 0 = none


def _cmc_to_20(cmc: Sequence[float], n_gallery: int) -> list[float]:
    """First 20 ranks; a gallery smaller than 20 keeps its final value (all matches found)."""
    values = [float(v) for v in cmc]
    if len(values) >= MAX_RANK:
        return values[:MAX_RANK]
    if not values or len(values) < n_gallery:
        raise ResultsError(
            f"CMC has {len(values)} ranks but the gallery has {n_gallery} entries; "
            f"pass ranks 1..{MAX_RANK} (or the whole gallery if it is smaller)"
        )
    return values + [values[-1]] * (MAX_RANK - len(values))


def make_rows(
    *, experiment: str, dataset: str, variant: str, split: int, protocol: str, seed: int,
    config_hash: str, code_version: str, device: str, train_seconds: float,
    per_length: Mapping[int, LengthMetrics], library_versions: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Build validated rows (one per test length) for one trained model on one split."""
    rows = []
    for test_length, metrics in sorted(per_length.items()):
        cmc = _cmc_to_20(metrics.cmc, metrics.n_gallery)
        row = {
            "experiment": experiment, "dataset": dataset, "variant": variant, "split": split,
            "test_length": test_length, "protocol": protocol,
            **dict(zip(CMC_COLUMNS, cmc)), "mAP": float(metrics.mAP),
            "n_query": metrics.n_query, "n_gallery": metrics.n_gallery, "seed": seed,
            "config_hash": config_hash, "code_version": code_version, "device": device,
            "train_seconds": float(train_seconds), "eval_seconds": float(metrics.eval_seconds),
        }
        if library_versions is not None:
            row["library_versions"] = json.dumps(dict(library_versions), sort_keys=True)
        if metrics.first_match:
            row["query_pids"] = [int(v) for v in metrics.query_pids]
            row["first_match"] = [int(v) for v in metrics.first_match]
        rows.append(row)
    return validate_rows(pd.DataFrame(rows), source=f"{experiment}/{dataset}/{variant}")


def _json_or_none(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _check_types(df: pd.DataFrame, source: str) -> None:
    """Column kinds and missing values; one message per problem column."""
    for col in STRING_COLUMNS:
        if df[col].isna().any() or not all(isinstance(v, str) and v for v in df[col]):
            raise ResultsError(f"{source}: column '{col}' must hold non-empty strings")
    for col in INT_COLUMNS:
        if not pd.api.types.is_integer_dtype(df[col]):
            raise ResultsError(f"{source}: column '{col}' must be integer, got {df[col].dtype}")
    for col in FLOAT_COLUMNS:
        if not pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col]):
            raise ResultsError(f"{source}: column '{col}' must be numeric, got {df[col].dtype}")
    if "library_versions" in df.columns:
        for value in df["library_versions"].dropna():
            if not isinstance(value, str) or not isinstance(_json_or_none(value), dict):
                raise ResultsError(f"{source}: 'library_versions' must be a JSON object string")


def _check_values(df: pd.DataFrame, source: str) -> None:
    """CMC values are fractions that never decrease with rank; lengths are positive."""
    cmc = df[list(CMC_COLUMNS)].to_numpy(dtype=float)
    if np.isnan(cmc).any() or (cmc < 0).any() or (cmc > 1).any():
        raise ResultsError(f"{source}: cmc_* must be fractions in [0, 1] (not percentages)")
    if (np.diff(cmc, axis=1) < -1e-9).any():
        raise ResultsError(f"{source}: cmc_1..cmc_{MAX_RANK} must be non-decreasing")
    ap = df["mAP"].to_numpy(dtype=float)
    if ((ap < 0) | (ap > 1)).any():
        raise ResultsError(f"{source}: mAP must be a fraction in [0, 1] or NaN")
    if (df["test_length"] < 1).any():
        raise ResultsError(f"{source}: test_length must be >= 1")
    if ((df["n_query"] < 1) | (df["n_gallery"] < 1)).any():
        raise ResultsError(f"{source}: n_query and n_gallery must be >= 1")
    for col in (c for c in QUERY_COLUMNS if c in df.columns):
        if any(len(v) != n for v, n in zip(df[col], df["n_query"], strict=True)):
            raise ResultsError(f"{source}: every '{col}' list must hold n_query values")
    _check_counts(df, cmc, source)


def _check_counts(df: pd.DataFrame, cmc: np.ndarray, source: str) -> None:
    """CMC is a share of queries: cmc_k = #(first match within k) / counted queries (all of them
    on the official protocol, those with a match on torchreid's), so on the official protocol
    every value is a multiple of 1/n_query."""
    official = (df["protocol"] == "official").to_numpy()
    n_query = df["n_query"].to_numpy(dtype=float)[:, None]
    counts = cmc[official] * n_query[official]
    if (np.abs(counts - np.round(counts)) > 1e-6).any():
        raise ResultsError(f"{source}: cmc_* must be multiples of 1/n_query on the official "
                           "protocol; the file is corrupt or was not written by amoc evaluate")
    if "first_match" not in df.columns:
        return
    for i, (first, protocol) in enumerate(zip(df["first_match"], df["protocol"], strict=True)):
        if first is None:
            continue
        first = np.asarray(first, dtype=np.int64)
        counted = len(first) if protocol == "official" else int((first > 0).sum())
        hits = ((first[:, None] >= 1) & (first[:, None] <= np.arange(1, MAX_RANK + 1))).sum(0)
        if counted == 0 or (first < 0).any() or (np.abs(hits / counted - cmc[i]) > 1e-9).any():
            raise ResultsError(
                f"{source}: row {i} (test length {df['test_length'].iloc[i]}): cmc_* disagree "
                "with its first_match ranks (rank-1 must be the share of first_match == 1); the "
                "file is corrupt or was not written by amoc evaluate")


def validate_rows(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Check `df` against the schema; return it with columns in schema order.

    Args:
        source: the file (or producer) named in error messages.
    """
    missing = [col for col in COLUMNS if col not in df.columns]
    if missing:
        raise ResultsError(
            f"{source}: missing column(s) {', '.join(repr(c) for c in missing)}; result rows need "
            f"{', '.join(COLUMNS)} (re-run the evaluation that wrote this file)"
        )
    if df.empty:
        raise ResultsError(f"{source}: holds no result rows")
    _check_types(df, source)
    _check_values(df, source)
    extra = [col for col in OPTIONAL_COLUMNS if col in df.columns]
    return df[[*COLUMNS, *extra]].reset_index(drop=True)


def write_rows(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Validate and write result rows as Parquet, atomically."""
    df = validate_rows(df, source=str(path))
    write_atomic(path, lambda tmp: df.to_parquet(tmp, index=False), checksum=True)
    log.info("wrote %d result rows to %s", len(df), path)


def _read_parquet(path: str | os.PathLike, what: str) -> pd.DataFrame:
    """Verify `path`'s checksum, then decode it; any decoding failure names the file."""
    if not Path(path).is_file():
        raise ResultsError(f"{path}: {what} not found; rerun the job that writes it")
    verify_checksum(path, what, ResultsError)
    try:
        table = pq.read_table(path)
        table.validate(full=True)  # e.g. invalid UTF-8, which pandas would decode only lazily
        return table.to_pandas()
    except Exception as err:  # pyarrow raises many types (ArrowInvalid, UnicodeDecodeError...)
        raise ResultsError(f"{path}: cannot read {what} ({type(err).__name__}: {err}); delete it "
                           "and rerun the job that writes it") from err


def read_rows(paths: Sequence[str | os.PathLike]) -> pd.DataFrame:
    """Read and validate result-row files; errors name the offending file."""
    if not paths:
        raise ResultsError("no result-row files given")
    frames = [validate_rows(_read_parquet(path, "result rows"), source=str(path))
              for path in paths]
    return pd.concat(frames, ignore_index=True)


def _check_unique(df: pd.DataFrame) -> None:
    """Two rows for the same training and length would silently double-count a training."""
    keys = [*GROUP_KEYS, "split", "seed"]
    dup = df[df.duplicated(keys, keep=False)]
    if not dup.empty:
        first = dup.iloc[0]
        raise ResultsError(
            f"{len(dup)} duplicate result rows, e.g. "
            + ", ".join(f"{k}={first[k]}" for k in keys)
            + "; pass each training's row file once"
        )


def _join_unique(values: pd.Series) -> str:
    return ",".join(sorted({str(v) for v in values}))


def aggregate(df: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample std (ddof=1; NaN for one training) over trainings of every metric.

    A training is one (split, seed). One row per (experiment, dataset, variant, test_length,
    protocol), with `n_trainings`, `n_splits`, the split ids, and the provenance of the rows it
    averages.
    """
    df = validate_rows(df, source="rows to aggregate")
    _check_unique(df)
    groups = df.groupby(list(GROUP_KEYS), sort=True)
    mean = groups[list(METRIC_COLUMNS)].mean().add_suffix("_mean")
    std = groups[list(METRIC_COLUMNS)].std(ddof=1).add_suffix("_std")
    info = groups.agg(
        n_trainings=("seed", "size"),
        n_splits=("split", "nunique"),
        splits=("split", _join_unique),
        n_query=("n_query", "mean"),
        n_gallery=("n_gallery", "mean"),
        train_seconds_mean=("train_seconds", "mean"),
        eval_seconds_mean=("eval_seconds", "mean"),
        config_hash=("config_hash", _join_unique),
        code_version=("code_version", _join_unique),
        device=("device", _join_unique),
    )
    return pd.concat([info, mean, std], axis=1).reset_index()


def write_summary(summary: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write the summary as Parquet at `path` and CSV beside it, each atomically."""
    path = Path(path)
    write_atomic(path, lambda tmp: summary.to_parquet(tmp, index=False), checksum=True)
    write_atomic(path.with_suffix(".csv"), lambda tmp: summary.to_csv(tmp, index=False))
    log.info("wrote %d summary rows to %s (+ .csv)", len(summary), path)


def read_summary(path: str | os.PathLike) -> pd.DataFrame:
    """Read a summary written by `write_summary`; errors name the file."""
    summary = _read_parquet(path, "the summary")
    missing = [col for col in SUMMARY_COLUMNS if col not in summary.columns]
    if missing:
        raise ResultsError(
            f"{path}: not a summary, missing {missing}; re-run `snakemake` (rule collect) to "
            "rewrite it"
        )
    return summary


def select(
    summary: pd.DataFrame, *, experiment: str, test_length: int | None = None,
    protocol: str | None = None, dataset: str | None = None,
) -> pd.DataFrame:
    """Summary rows of one experiment (optionally one length/protocol/dataset), unambiguous."""
    rows = summary[summary["experiment"] == experiment]
    if rows.empty:
        known = sorted(summary["experiment"].unique().tolist())
        raise ResultsError(f"no results for experiment {experiment!r}; the summary has {known}")
    for col, value in (("test_length", test_length), ("protocol", protocol), ("dataset", dataset)):
        if value is not None:
            available = sorted(rows[col].unique().tolist())
            rows = rows[rows[col] == value]
            if rows.empty:
                raise ResultsError(
                    f"experiment {experiment!r} has no results with {col}={value!r}; "
                    f"available: {available}"
                )
    protocols = rows.groupby("dataset")["protocol"].nunique()
    if (protocols > 1).any():
        raise ResultsError(
            f"experiment {experiment!r} mixes protocols on {list(protocols[protocols > 1].index)}; "
            "choose one with --protocol"
        )
    return rows.reset_index(drop=True)
