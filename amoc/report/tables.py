"""Render the paper's Tables I-IV from the aggregated summary, next to the paper's numbers.

Which experiment feeds which table is the caller's choice (the workflow passes it), so the same
code renders a synthwalk smoke run and a full iLIDS-VID/PRID-2011/MARS reproduction.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from amoc.atomic import write_text_atomic
from amoc.cli import run_command
from amoc.report.compare import comparison
from amoc.report.reference import TABLES, dataset_label, reference_table, source_label
from amoc.report.render import to_latex, to_markdown
from amoc.report.results import read_summary, select

log = logging.getLogger(__name__)


def caption(table: str, comp: pd.DataFrame, rows: pd.DataFrame, test_length: int,
            ran: str | None = None) -> str:
    """Say what ran here, what each line is, and that non-paper datasets are not comparable.

    ``ran`` describes the models this run trained (e.g. "AMOC + offline EpicFlow, 1 epoch,
    1 split x 1 seed"): the paper's caption describes the paper's models, not these.
    """
    ref = reference_table(table)
    source = source_label()
    protocols = ", ".join(
        f"{dataset_label(d)}: {p}" for d, p in rows.groupby("dataset")["protocol"].first().items()
    ) if not rows.empty else ""
    protocol = f"protocol ({protocols})" if protocols else "no dataset run"
    text = (
        f"{ref['paper_table']} ({source}); the paper's caption: "
        f"“{ref['caption'].strip()}” "
        + (f"Trained here: {ran}. " if ran else "")
        + f"Ours: mean ± std over trainings (one split and seed each) in %, n = number of "
        f"trainings, test length {test_length}, {protocol}. paper (reported): the numbers "
        f"printed in {source} {ref['paper_table']}, not produced by this benchmark. "
        "difference = ours − paper (percentage points). — = not run / not reported."
    )
    if table == "table2":
        text += (" Concatenation and max fusion at tanhN are the same function as at poolN "
                 "(a per-channel window maximum commutes with both), so those cells are one "
                 "trained model shown under both names (amoc.models.config.canonical_fusion).")
    foreign = sorted(set(comp.loc[~comp["comparable"], "dataset"]))
    if foreign:
        names = ", ".join(dataset_label(d) for d in foreign)
        synthetic = " (synthwalk is this benchmark's synthetic dataset)" if "synthwalk" in foreign else ""
        text += (
            f" {names}: not a dataset of the paper's {ref['paper_table']}{synthetic}; these "
            "numbers are NOT comparable to the paper's and have no paper or difference values."
        )
    return text


def render_table(
    summary: pd.DataFrame, *, table: str, experiment: str, ours: Sequence[str] | None = None,
    test_length: int = 128, protocol: str | None = None, labels: dict[str, str] | None = None,
    ran: str | None = None,
) -> dict[str, str]:
    """Text of one table in every format: {'md': ..., 'tex': ..., 'csv': ...}."""
    reference_table(table)  # fail early on an unknown table name
    # An experiment with no dataset configured here (e.g. Table IV without MARS) has an empty
    # summary: the table then shows the paper's rows and "—" for ours.
    rows = summary if summary.empty else select(
        summary, experiment=experiment, test_length=test_length, protocol=protocol)
    comp = comparison(rows, table, ours, labels)
    text = caption(table, comp, rows, test_length, ran)
    csv = comp.assign(table=table, experiment=experiment, test_length=test_length)
    return {
        "md": to_markdown(comp, text),
        "tex": to_latex(comp, text, label=table),
        "csv": csv.to_csv(index=False, float_format="%.4f"),
    }


def write_table(texts: dict[str, str], out_dir: str | os.PathLike, name: str) -> list[Path]:
    """Write `{name}.md/.tex/.csv` under `out_dir`, each atomically."""
    paths = []
    for ext, text in texts.items():
        path = Path(out_dir) / f"{name}.{ext}"
        write_text_atomic(path, text)
        paths.append(path)
    log.info("wrote %s", ", ".join(str(p) for p in paths))
    return paths


def main(argv: list[str] | None = None) -> int:
    """CLI: render one table from a summary written by `amoc collect`."""
    parser = argparse.ArgumentParser(prog="amoc tables", description=__doc__)
    parser.add_argument("--summary", required=True, help="summary Parquet from amoc collect")
    parser.add_argument("--table", required=True, choices=TABLES)
    parser.add_argument("--experiment", required=True, help="experiment whose rows feed the table")
    parser.add_argument("--out-dir", required=True, help="writes NAME.md, NAME.tex, NAME.csv")
    parser.add_argument("--name", default=None, help="file stem (default: the experiment name)")
    parser.add_argument("--ours", nargs="+", default=None,
                        help="table3/table4: variant(s) shown as ours (default: the paper's AMOC rows)")
    parser.add_argument("--test-length", type=int, default=128)
    parser.add_argument("--protocol", default=None, help="pick one evaluation protocol")
    parser.add_argument("--label", nargs="+", default=[], metavar="VARIANT=TEXT",
                        help="row label of a variant the paper does not have (a plug-in)")
    parser.add_argument("--ran", default=None,
                        help="what this run trained, for the caption (the workflow passes it)")
    args = parser.parse_args(argv)
    texts = render_table(
        read_summary(args.summary), table=args.table, experiment=args.experiment,
        ours=args.ours, test_length=args.test_length, protocol=args.protocol,
        labels=dict(item.split("=", 1) for item in args.label), ran=args.ran,
    )
    write_table(texts, args.out_dir, args.name or args.experiment)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_command(main))
