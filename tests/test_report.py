"""The paper's reference numbers and the tables built from them (hand-made rows as inputs)."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from amoc.errors import ConfigError
from amoc.report import reference, tables
from amoc.report.compare import comparison
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
