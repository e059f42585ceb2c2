"""The paper's reference numbers and the tables built from them (hand-made rows as inputs)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from amoc.errors import ConfigError
from amoc.report import reference, tables
from amoc.report.compare import comparison
from amoc.report.render import latex_escape
from amoc.report.results import LengthMetrics, aggregate, make_rows, select, write_summary


def model_rows(dataset: str, variant: str, rank1s, experiment: str = "table1") -> pd.DataFrame:
    """Test input: one row per split at test length 128; CMC rises linearly from rank1 to 1."""
    frames = []
    for split, rank1 in enumerate(rank1s):
        metrics = LengthMetrics(np.linspace(rank1, 1.0, 20), 0.4, 10, 10, 0.1)
        frames.append(make_rows(
            experiment=experiment, dataset=dataset, variant=variant, split=split,
            protocol="standard", seed=split, config_hash="h", code_version="0.1.0",
            device="cpu", train_seconds=1.0, per_length={128: metrics},
        ))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def summary() -> pd.DataFrame:
    return aggregate(pd.concat([
        model_rows("ilidsvid", "amoc_e2e_epic", [0.5, 0.7, 0.6]),
        model_rows("synthwalk", "amoc_e2e_epic", [0.9, 0.8]),
        model_rows("synthwalk", "my_extra", [0.3]),
    ]))


def test_reference_table1_rows_and_values():
    rows = reference.reference_table("table1")["rows"]
    assert list(rows) == list(reference.TABLE1_ROWS)
    assert rows["amoc_e2e_epic"]["ilidsvid"]["rank1"] == 68.7
    assert rows["baseline_lk"]["ilidsvid"]["rank1"] == 58.0
    assert rows["amoc_e2e_epic"]["prid2011"]["rank20"] == 100
    assert rows["amoc_nomotion"]["prid2011"] == {
        "rank1": 65.4, "rank5": 88.9, "rank10": 95.6, "rank20": 98.5,
    }
    assert reference.paper_value("table1", "amoc_offline_lk", "ilidsvid", "rank10") == 95.1


def test_reference_tables_2_to_4():
    t2 = reference.reference_table("table2")["rows"]
    assert len(t2) == 21
    assert t2["concat_pool2"]["ilidsvid"] == reference.reference_table("table1")["rows"][
        "amoc_e2e_epic"]["ilidsvid"]
    assert t2["sum_tanh1"]["prid2011"]["rank1"] == 71.5
    assert t2["max_fc"]["ilidsvid"]["rank20"] == 94.9
    t3 = reference.reference_table("table3")["rows"]
    assert [r["kind"] for r in t3.values()].count("comparison") == 12
    assert t3["sta"]["prid2011"]["rank1"] == 64.1
    t4 = reference.reference_table("table4")
    assert t4["metrics"] == ["rank1", "rank5", "rank20", "mAP"]
    assert t4["rows"]["amoc_e2e_epic"]["mars"] == {
        "rank1": 68.3, "rank5": 81.4, "rank20": 90.6, "mAP": 52.9,
    }
    assert reference.load_reference()["figures"]["fig6"]["c_margin"]["best_rank1"] == 68.7


def test_reference_validation_names_the_broken_key():
    broken = copy.deepcopy(reference.load_reference())
    del broken["tables"]["table1"]["rows"]["baseline_epic"]["prid2011"]["rank5"]
    with pytest.raises(ConfigError, match="table1.rows.baseline_epic.prid2011"):
        reference.validate_reference(broken)
    broken = copy.deepcopy(reference.load_reference())
    broken["tables"]["table3"]["rows"]["sta"]["ilidsvid"]["rank1"] = 443
    with pytest.raises(ConfigError, match="not a percentage"):
        reference.validate_reference(broken)


def test_comparison_frame(summary):
    comp = comparison(select(summary, experiment="table1", test_length=128), "table1")
    cell = comp.query("row_key == 'amoc_e2e_epic' and dataset == 'ilidsvid' and metric == 'rank1'")
    assert cell["ours_mean"].item() == pytest.approx(60.0)
    assert cell["ours_std"].item() == pytest.approx(10.0)
    assert cell["paper"].item() == 68.7 and cell["difference"].item() == pytest.approx(-8.7)
    synth = comp.query("dataset == 'synthwalk'")
    assert not synth["comparable"].any() and synth["paper"].isna().all()
    assert comp.query("row_key == 'baseline_lk'")["ours_mean"].isna().all()
    assert "my_extra" in set(comp["row_key"])


def test_table1_markdown_has_ours_paper_difference_and_dashes(summary):
    md = tables.render_table(summary, table="table1", experiment="table1")["md"]
    lines = md.splitlines()
    e2e = lines.index(next(line for line in lines if "end-to-end AMOC + EpicFlow" in line))
    ours, paper, diff = lines[e2e], lines[e2e + 1], lines[e2e + 2]
    assert "| ours | 60.0 ± 10.0 |" in ours and "| 3 |" in ours
    assert "| paper (reported) | 68.7 | 94.3 | 98.3 | 99.3 | 10 | 83.7" in paper
    assert "| difference | -8.7 |" in diff
    assert "85.0 ± 7.1" in ours  # synthwalk, 2 splits
    baseline = next(line for line in lines if line.startswith("| Baseline + LK-Flow"))
    assert "| ours | — | — |" in baseline
    assert "NOT comparable" in md and "Liu et al., TCSVT" in md


def test_table3_lists_reported_comparison_methods(summary):
    md = tables.render_table(summary, table="table3", experiment="table1")["md"]
    assert "| STA [13] | paper (reported) | 44.3 | 71.7 | 83.7 | 91.7 |" in md
    assert "| AMOC + EpicFlow | ours | — |" in md  # the paper's row, not run in this summary
    assert "| end-to-end AMOC + EpicFlow | ours | 60.0 ± 10.0" in md


def test_table3_shows_both_trained_amoc_rows_next_to_the_reported_ones():
    both = aggregate(pd.concat([model_rows("ilidsvid", "amoc_offline_epic", [0.4, 0.6]),
                                model_rows("ilidsvid", "amoc_e2e_epic", [0.5, 0.7])]))
    lines = tables.render_table(both, table="table3", experiment="table1")["md"].splitlines()
    for label, ours in (("AMOC + EpicFlow", "50.0 ± 14.1"),
                        ("end-to-end AMOC + EpicFlow", "60.0 ± 14.1")):
        at = next(i for i, line in enumerate(lines) if line.startswith(f"| {label} |"))
        assert f"| ours | {ours}" in lines[at]
        assert "| paper (reported) |" in lines[at + 1] and "| difference |" in lines[at + 2]


def test_table4_only_synthwalk_has_no_difference_line():
    synth = aggregate(model_rows("synthwalk", "amoc_e2e_epic", [0.9], experiment="mars"))
    texts = tables.render_table(synth, table="table4", experiment="mars")
    assert "| ours | — | — | — | — | — | 90.0 | 92.1 | 100.0 | 40.0 | 1 |" in texts["md"]
    assert "| difference |" not in texts["md"]
    assert "IDE [54] + XQDA" in texts["md"] and "52.9" in texts["md"]
    assert r"\toprule" in texts["tex"] and r"synthwalk" in texts["tex"]


def test_latex_escapes_specials():
    from amoc.report.render import latex_escape

    assert latex_escape("my_extra 5% ± —") == r"my\_extra 5\% $\pm$ ---"


def test_tables_cli_writes_three_files(summary, tmp_path):
    path = tmp_path / "summary.parquet"
    write_summary(summary, path)
    out = tmp_path / "tables"
    args = ["--summary", str(path), "--table", "table2", "--experiment", "table1",
            "--out-dir", str(out)]
    assert tables.main(args) == 0
    assert sorted(p.name for p in out.iterdir()) == ["table1.csv", "table1.md", "table1.tex"]
    assert tables.main([*args, "--name", "t2"]) == 0
    csv = pd.read_csv(out / "t2.csv")
    assert len(csv) == 23 * 3 * 4  # (21 paper rows + 2 variants not in Table II) x 3 x 4
    assert csv.query("row_key == 'concat_pool2' and metric == 'rank1' and dataset == 'ilidsvid'"
                     )["paper"].item() == 68.7


# --- content: every cell of Table II (Markdown and LaTeX) and its caption, against the summary -

PAPER = yaml.safe_load((Path(reference.__file__).parent / "paper_reference.yaml").read_text())
T2 = PAPER["tables"]["table2"]
RANKS = {"rank1": 1, "rank5": 5, "rank10": 10, "rank20": 20}
T2_OURS = {"ilidsvid": {"concat_pool2": [0.5, 0.7, 0.6], "sum_tanh1": [0.2, 0.4]},
           "synthwalk": {"concat_pool2": [0.9, 0.8], "max_fc": [0.35]}}


@pytest.fixture(scope="module")
def table2() -> dict:
    summary = aggregate(pd.concat([model_rows(d, v, r1, experiment="table2")
                                   for d, cells in T2_OURS.items() for v, r1 in cells.items()]))
    texts = tables.render_table(summary, table="table2", experiment="table2")
    return {"summary": summary, **texts}


def _md_cells(md: str) -> tuple[list[str], list[list[str]]]:
    """(titles, rows of cells) of the Markdown table after the caption paragraph."""
    lines = [line for line in md.splitlines() if line.startswith("|")]
    split = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    return split[0], split[2:]


def _expected_cells(summary: pd.DataFrame, variant: str, source: str) -> list[str]:
    """Cells of one Table II line, computed here from the summary and the paper's numbers."""
    cells = []
    for dataset in ("ilidsvid", "prid2011", "synthwalk"):
        row = summary[(summary["variant"] == variant) & (summary["dataset"] == dataset)]
        comparable = dataset in T2["datasets"]
        paper = T2["rows"][variant].get(dataset) if comparable else None
        for metric, k in RANKS.items():
            mean = 100 * row[f"cmc_{k}_mean"].item() if len(row) else None
            std = 100 * row[f"cmc_{k}_std"].item() if len(row) else None
            if source == "ours":
                cells.append("—" if mean is None else f"{mean:.1f} ± {std:.1f}"
                             if row["n_splits"].item() > 1 else f"{mean:.1f}")
            elif source == "paper (reported)":
                cells.append(f"{paper[metric]:.1f}" if paper else "—")
            else:
                cells.append("" if not comparable else "—" if mean is None
                             else f"{mean - paper[metric]:+.1f}")
        n = int(row["n_splits"].item()) if len(row) else 0
        cells.append({"ours": str(n) if n else "—",
                      "paper (reported)": str(PAPER["protocol"]["splits"].get(dataset))
                      if paper else "—", "difference": ""}[source])
    return cells


def test_table2_markdown_cells_are_the_summary_and_the_paper(table2):
    titles, rows = _md_cells(table2["md"])
    assert titles[:2] == ["Method", "Source"]
    assert titles[2:] == [f"{name} {m}" for name in ("iLIDS-VID", "PRID-2011", "synthwalk")
                          for m in ("R1", "R5", "R10", "R20", "n")]
    by_label = {}
    label = None
    for cells in rows:
        label = cells[0] or label
        by_label.setdefault(label, {})[cells[1]] = cells[2:]
    assert list(by_label) == [row["label"] for row in T2["rows"].values()]  # paper order, 21
    for variant, spec in T2["rows"].items():
        lines = by_label[spec["label"]]
        assert list(lines) == ["ours", "paper (reported)", "difference"]
        for source, cells in lines.items():
            assert cells == _expected_cells(table2["summary"], variant, source), (variant, source)


def test_table2_latex_body_matches_the_markdown_cells(table2):
    _, rows = _md_cells(table2["md"])
    tex = table2["tex"].splitlines()
    body = tex[tex.index(r"\midrule") + 1:tex.index(r"\bottomrule")]
    assert body == [" & ".join(latex_escape(c) for c in cells) + r" \\" for cells in rows]
    concat = next(i for i, r in enumerate(rows) if r[0] == T2["rows"]["concat_pool2"]["label"])
    assert r"60.0 $\pm$ 10.0" in body[concat]
    assert r"\label{tab:table2}" in tex and r"\begin{tabular}{ll" + "r" * 15 + "}" in tex


def test_table2_caption_says_what_each_line_is(table2):
    comp = comparison(select(table2["summary"], experiment="table2", test_length=128), "table2")
    text = tables.caption("table2", comp, select(table2["summary"], experiment="table2",
                                                 test_length=128), 128)
    assert text.startswith(f"Table II ({PAPER['source']['short']}); the paper's caption: "
                           f"“{' '.join(T2['caption'].split())}”")
    assert "mean ± std over trainings (one split and seed each) in %" in text
    assert "test length 128" in text and "Trained here" not in text
    assert "protocol (iLIDS-VID: standard, synthwalk: standard)" in text
    assert "synthwalk: not a dataset of the paper's Table II" in text and "NOT comparable" in text
    assert "same function as at poolN" in text  # why concat_tanh2 repeats concat_pool2
    assert "PRID-2011:" not in text.split("protocol (")[1].split(")")[0]  # not run: no protocol
    assert table2["md"].startswith(text + "\n\n|")
    assert latex_escape(text) in table2["tex"]


def test_captions_name_what_was_trained_here_and_never_an_empty_protocol(table2):
    rows = select(table2["summary"], experiment="table2", test_length=128)
    ran = "AMOC + offline EpicFlow; 1 epoch, 1 split x 1 seed"
    text = tables.caption("table2", comparison(rows, "table2"), rows, 128, ran)
    assert f"Trained here: {ran}." in text
    empty = table2["summary"].iloc[:0]
    text = tables.caption("table4", comparison(empty, "table4"), empty, 128)
    assert "protocol ()" not in text and "no dataset run" in text
