"""Turn a tidy comparison frame into display rows, then Markdown or LaTeX text.

Each method gets an "ours" line (mean ± std over trainings), a "paper (reported)" line and, where
the dataset is one the paper used, a "difference" line; comparison methods only get the paper's,
and a method the paper does not have (a plug-in) only ours.
"""

from __future__ import annotations

import math

import pandas as pd

from amoc.report.reference import dataset_label, paper_splits

MISSING = "—"
NOT_APPLICABLE = ""
PAPER = "paper (reported)"
METRIC_LABELS = {"rank1": "R1", "rank5": "R5", "rank10": "R10", "rank20": "R20", "mAP": "mAP"}


def _number(value: float, signed: bool = False) -> str:
    if math.isnan(value):
        return MISSING
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def _ours_cell(mean: float, std: float, n: int) -> str:
    if math.isnan(mean):
        return MISSING
    return f"{mean:.1f} ± {std:.1f}" if n > 1 and not math.isnan(std) else f"{mean:.1f}"


def header(comp: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(datasets in column order, column titles): per dataset its metrics then the split count."""
    datasets = list(dict.fromkeys(comp["dataset"]))
    metrics = list(dict.fromkeys(comp["metric"]))
    titles = ["Method", "Source"]
    for dataset in datasets:
        name = dataset_label(dataset)
        titles += [f"{name} {METRIC_LABELS.get(m, m)}" for m in metrics] + [f"{name} n"]
    return datasets, titles


def _line(block: pd.DataFrame, datasets: list[str], source: str) -> list[str]:
    """Cells of one display line (`source` = ours / paper / difference) over all datasets."""
    cells: list[str] = []
    for dataset in datasets:
        part = block[block["dataset"] == dataset]
        comparable = bool(part["comparable"].iloc[0])
        if source == "ours":
            cells += [_ours_cell(r.ours_mean, r.ours_std, r.n_splits) for r in part.itertuples()]
            n = int(part["n_splits"].max())
            cells.append(str(n) if n else MISSING)
        elif source == PAPER:
            cells += [_number(v) if comparable else MISSING for v in part["paper"]]
            reported = comparable and bool(part["paper"].notna().any())
            cells.append(str(paper_splits(dataset) or MISSING) if reported else MISSING)
        else:
            cells += [_number(v, signed=True) if comparable else NOT_APPLICABLE
                      for v in part["difference"]]
            cells.append(NOT_APPLICABLE)
    return cells


def display_rows(comp: pd.DataFrame) -> list[list[str]]:
    """All display lines of the table, in the order of `comp`'s methods."""
    datasets, _ = header(comp)
    ran_comparable = comp["comparable"] & comp["ours_mean"].notna()  # any difference to show?
    any_comparable = bool(ran_comparable.any())
    lines = []
    for key in dict.fromkeys(comp["row_key"]):
        block = comp[comp["row_key"] == key]
        label = str(block["label"].iloc[0])
        reported = bool(block["paper"].notna().any())  # a plug-in has no paper numbers
        sources = [PAPER] if block["kind"].iloc[0] == "comparison" else ["ours", PAPER]
        if sources[0] == "ours" and not reported:
            sources = ["ours"]
        elif sources[0] == "ours" and any_comparable:
            sources.append("difference")
        for i, source in enumerate(sources):
            lines.append([label if i == 0 else "", source, *_line(block, datasets, source)])
    return lines


def to_markdown(comp: pd.DataFrame, caption: str) -> str:
    """A caption paragraph followed by a GitHub-flavoured Markdown table."""
    _, titles = header(comp)
    out = [caption, "", "| " + " | ".join(titles) + " |", "|" + "---|" * len(titles)]
    out += ["| " + " | ".join(cells) + " |" for cells in display_rows(comp)]
    return "\n".join(out) + "\n"


def frame_markdown(frame: pd.DataFrame) -> str:
    """Any data frame as a GitHub-flavoured Markdown table (cells as printed by str)."""
    out = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    out += ["| " + " | ".join(map(str, row)) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(out) + "\n"


_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "±": r"$\pm$", "—": "---", "−": "$-$",
}


def latex_escape(text: str) -> str:
    """Escape LaTeX specials so labels like 'SI2DL [14]' or 'amoc_e2e_epic' compile."""
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in text)


def to_latex(comp: pd.DataFrame, caption: str, label: str) -> str:
    """A booktabs `table` environment (needs \\usepackage{booktabs})."""
    _, titles = header(comp)
    spec = "ll" + "r" * (len(titles) - 2)
    out = [
        r"\begin{table}[t]", r"\centering", r"\small",
        rf"\caption{{{latex_escape(caption)}}}", rf"\label{{tab:{label}}}",
        rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
        " & ".join(latex_escape(t) for t in titles) + r" \\", r"\midrule",
    ]
    out += [" & ".join(latex_escape(c) for c in cells) + r" \\" for cells in display_rows(comp)]
    out += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(out) + "\n"
