"""Line up our aggregated numbers with the paper's, one tidy row per (method, dataset, metric).

Tables in every format are rendered from this one frame, so Markdown, LaTeX and CSV can never
disagree, and a variant we did not run stays NaN (shown as "—") instead of being filled in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from amoc.report.reference import reference_table

COLUMNS = (
    "row_key", "label", "kind", "dataset", "comparable", "metric",
    "ours_mean", "ours_std", "n_splits", "paper", "difference",
)


def metric_column(metric: str) -> str:
    """Reference metric name -> summary column stem: 'rank5' -> 'cmc_5', 'mAP' -> 'mAP'."""
    return f"cmc_{metric.removeprefix('rank')}" if metric.startswith("rank") else metric


def _row_specs(table: str, variants: Sequence[str], ours: Sequence[str] | None,
               labels: Mapping[str, str]) -> list[tuple]:
    """(key, label, kind) in paper order; kind 'variant' rows get our numbers.

    A variant the paper does not have is labelled by ``labels`` (a plug-in: its class), else
    by its name.
    """
    rows = reference_table(table)["rows"]
    if table in ("table1", "table2"):
        shown = list(rows) + sorted(v for v in variants if v not in rows)
        return [(k, rows[k]["label"] if k in rows else labels.get(k, k), "variant")
                for k in shown]
    if ours is None:  # the paper's own rows ("kind: ours"), then anything else we ran
        ours = [k for k, row in rows.items() if row["kind"] == "ours"]
        ours += sorted(v for v in variants if v not in rows)
    specs = [
        (key, row["label"], "variant" if key in ours else "comparison")
        for key, row in rows.items()
    ]
    return specs + [(key, labels.get(key, key), "variant") for key in ours if key not in rows]


def _datasets(table: str, summary: pd.DataFrame) -> list[str]:
    """The paper's datasets for this table, then any others we ran (e.g. synthwalk)."""
    paper = list(reference_table(table)["datasets"])
    return paper + sorted(d for d in summary["dataset"].unique() if d not in paper)


def _ours(summary: pd.DataFrame, variant: str, dataset: str, metric: str) -> tuple:
    """(mean %, std %, trainings) of one cell of ours, NaN/0 when not run."""
    hit = summary[(summary["variant"] == variant) & (summary["dataset"] == dataset)]
    if hit.empty:
        return math.nan, math.nan, 0
    col = metric_column(metric)
    row = hit.iloc[0]
    return 100.0 * row[f"{col}_mean"], 100.0 * row[f"{col}_std"], int(row["n_trainings"])


def comparison(
    summary: pd.DataFrame, table: str, ours: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Tidy comparison of `summary` (one experiment, one test length) with the paper's `table`.

    Args:
        summary: aggregated rows already narrowed by `amoc.report.results.select`.
        table: `table1`..`table4`.
        ours: for table3/table4, the variant(s) shown as ours; default: the paper's own rows
            (AMOC + EpicFlow and end-to-end AMOC + EpicFlow) and any other variant run.
        labels: row labels of variants the paper does not have (a plug-in: its class).
    Returns:
        Columns `COLUMNS`; numbers in percent; `difference` = ours - paper where comparable.
    """
    ref = reference_table(table)
    records = []
    for key, label, kind in _row_specs(table, list(summary["variant"].unique()), ours,
                                       labels or {}):
        for dataset in _datasets(table, summary):
            comparable = dataset in ref["datasets"]
            for metric in ref["metrics"]:
                mean, std, n = (
                    _ours(summary, key, dataset, metric) if kind == "variant"
                    else (math.nan, math.nan, 0)
                )
                paper = ref["rows"].get(key, {}).get(dataset, {}).get(metric, math.nan)
                records.append((
                    key, label, kind, dataset, comparable, metric, mean, std, n,
                    float(paper), mean - float(paper),
                ))
    return pd.DataFrame.from_records(records, columns=list(COLUMNS))
