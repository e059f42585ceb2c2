"""Gather one experiment's per-split evaluation rows, label them, and aggregate over splits.

Evaluation rows are stored per trained model (one model can fill cells of several experiments);
this step gives each row its experiment and variant name, then writes the experiment's rows and
its mean/std summary.
"""

from __future__ import annotations

import argparse
import logging

import pandas as pd

from amoc.atomic import write_atomic
from amoc.cli import run_command
from amoc.report.results import (
    COLUMNS,
    SUMMARY_COLUMNS,
    aggregate,
    read_rows,
    write_rows,
    write_summary,
)

log = logging.getLogger(__name__)


def empty_summary() -> pd.DataFrame:
    """The summary of an experiment with nothing to run here (tables then show only the paper)."""
    return pd.DataFrame({col: [] for col in SUMMARY_COLUMNS})


def collect(experiment: str, members: list[tuple[str, str, list[str]]]) -> pd.DataFrame:
    """Concatenate rows of every (variant, dataset, files) cell, labelled with the experiment.

    Args:
        experiment: experiment name written into every row.
        members: (variant, dataset, row files) per cell; a cell's files are its splits.
    Returns:
        All rows (empty, with the schema's columns, when the experiment has no cells).
    """
    frames = []
    for variant, dataset, files in members:
        rows = read_rows(files)
        if (rows["dataset"] != dataset).any():
            raise ValueError(f"rows in {files} are not from dataset {dataset}")
        frames.append(rows.assign(experiment=experiment, variant=variant))
    if not frames:
        log.info("experiment %s has no cells to run here (no dataset configured)", experiment)
        return pd.DataFrame({col: [] for col in COLUMNS})
    return pd.concat(frames, ignore_index=True)


def _parse_members(groups: list[list[str]]) -> list[tuple[str, str, list[str]]]:
    return [(g[0], g[1], g[2:]) for g in groups]


def main(argv: list[str] | None = None) -> int:
    """CLI: `python -m amoc.report.collect --experiment E --member V D F... --rows R --summary S`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--experiment", required=True)
    parser.add_argument("--member", nargs="+", action="append", default=[],
                        metavar="VARIANT DATASET FILE", help="one experiment cell and its files")
    parser.add_argument("--rows", required=True, help="output Parquet of labelled rows")
    parser.add_argument("--summary", required=True, help="output Parquet of the aggregate")
    args = parser.parse_args(argv)
    rows = collect(args.experiment, _parse_members(args.member))
    if rows.empty:
        write_atomic(args.rows, lambda tmp: rows.to_parquet(tmp, index=False))
        write_summary(empty_summary(), args.summary)
        return 0
    write_rows(rows, args.rows)
    write_summary(aggregate(rows), args.summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_command(main))
