"""The report's pages and labels: Markdown tables as HTML, captions naming what was trained,
plug-in rows without an empty paper line, stable colours, readable axes and figures."""

from __future__ import annotations

import html.parser
import re
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from test_report import model_rows

from amoc.report import figures, pages, tables
from amoc.report.curves import plot_curves
from amoc.report.describe import describe_model, describe_run
from amoc.report.results import aggregate


class Cells(html.parser.HTMLParser):
    """Collects the text of every <th> and <td>, row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _summary() -> pd.DataFrame:
    return aggregate(pd.concat([model_rows("synthwalk", "amoc_e2e_epic", [0.9, 0.8]),
                                model_rows("synthwalk", "my_plugin", [0.3])]))


def test_a_table_page_is_an_html_table_with_the_markdown_cells() -> None:
    md = tables.render_table(_summary(), table="table1", experiment="table1",
                             labels={"my_plugin": "my_plugin (plug-in x:Y)"})["md"]
    page = pages.markdown_to_html(md, "table1")
    parsed = Cells()
    parsed.feed(page)
    md_rows = [[c.strip() for c in line.strip("|").split("|")]
               for line in md.splitlines() if line.startswith("|") and "---|" not in line]
    assert parsed.rows == md_rows and len(parsed.rows) > 5
    assert "<p>Table I (" in page and "<title>table1</title>" in page


def test_a_plugin_row_has_no_empty_paper_line() -> None:
    md = tables.render_table(_summary(), table="table1", experiment="table1",
                             labels={"my_plugin": "my_plugin (plug-in x:Y)"})["md"]
    lines = md.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("| my_plugin (plug-in"))
    assert "| ours |" in lines[at] and "| 30.0 |" in lines[at]
    assert not any("paper (reported)" in line for line in lines[at + 1:])


def test_the_claims_kind_of_markdown_escapes_and_keeps_paragraphs(tmp_path: Path) -> None:
    md = tmp_path / "claims.md"
    md.write_text("Claims <tested> with `code` and **bold**.\n\n| a | b |\n|---|---|\n| 1 | <2> |\n")
    assert pages.main(["--md", str(md), "--out", str(tmp_path / "claims.html")]) == 0
    page = (tmp_path / "claims.html").read_text()
    assert "<p>Claims &lt;tested&gt; with <code>code</code> and <b>bold</b>.</p>" in page
    assert "<td>&lt;2&gt;</td>" in page


def test_run_descriptions_name_the_trained_model_epochs_and_trainings() -> None:
    sweep = ({"variant": "amoc_offline"}, "epic", {"epochs": 1}, 1, 1)
    assert describe_run([sweep, sweep]) == "AMOC + offline EpicFlow; 1 epoch, 1 split x 1 seed"
    e2e = ({"variant": "amoc"}, "lk", {"epochs": 4}, 2, 3)
    assert describe_run([e2e]) == ("end-to-end AMOC (motion net pre-trained on Lucas-Kanade); "
                                   "4 epochs, 2 splits x 3 seeds")
    assert describe_model({"class": "examples.c3d_tiny:C3dTiny"}, None) == \
        "plug-in examples.c3d_tiny:C3dTiny"
    assert describe_run([]) == ""


def test_a_variant_keeps_its_colour_when_another_is_added() -> None:
    names = ["amoc_e2e_epic", "tap_plugin", "concat_pool2", "my_c3d"]
    before = figures.variant_colors(names)
    after = figures.variant_colors([*names, "olive_maker", "zz_new"])
    assert all(after[n] == before[n] for n in names)
    assert len(set(after.values())) == len(after)  # no two lines share a colour


def test_a_rank1_axis_spans_at_least_ten_points_from_zero_up() -> None:
    ax = Figure().subplots()
    ax.plot([1, 2], [2.0, 3.0])
    figures.at_least_span(ax)
    low, high = ax.get_ylim()
    assert high - low >= figures.MIN_SPAN and low >= 0.0
    ax.set_ylim(40, 90)
    figures.at_least_span(ax)
    assert ax.get_ylim() == (40, 90)


def test_training_curves_are_two_panels_wide(tmp_path: Path, monkeypatch) -> None:
    saved = []
    real = figures.save_figure
    monkeypatch.setattr("amoc.report.curves.save_figure",
                        lambda fig, out: saved.append(fig) or real(fig, out))
    epochs = [{"epoch": e, "loss": 1.0 / e, "contrastive": 0.5, "identity": 0.5,
               "frame_pairs_per_s": 10.0} for e in (1, 2)]
    history = [{"iteration": i, "loss": 1.0, "heldout_epe": 0.5} for i in (10, 20)]
    plot_curves({"a": [epochs], "b": [epochs, epochs]}, {"net": [history]}, tmp_path / "c", "t")
    (fig,) = saved
    width, _ = fig.get_size_inches()
    assert width <= 11 and len([ax for ax in fig.axes if ax.axison]) == 6
    assert (tmp_path / "c.png").exists()


def test_fig5_has_a_colour_key_and_room_for_its_title(tmp_path: Path, monkeypatch) -> None:
    saved = []
    real = figures.save_figure
    monkeypatch.setattr(figures, "save_figure",
                        lambda fig, out: saved.append(fig) or real(fig, out))
    frames = [np.zeros((128, 64, 3), np.uint8)] * 3
    flow = [np.ones((64, 32, 2), np.float32)] * 3
    figures.plot_fig5(frames, flow, flow, tmp_path / "fig5", title="a long title " * 4)
    (fig,) = saved
    key = [ax for ax in fig.axes if ax.get_title().startswith("flow key")]
    assert len(key) == 1
    wheel = figures.colour_wheel(33)
    assert (wheel[16, 16] == 255).all() and len({tuple(p) for p in wheel[2]}) > 5
    fig.canvas.draw()
    top = max(ax.get_position().y1 for ax in fig.axes if ax is not key[0])
    title = fig._suptitle.get_window_extent().transformed(fig.transFigure.inverted())
    assert title.y0 >= top


def test_the_report_home_page_says_what_ran_and_is_valid_rst() -> None:
    import types

    import jinja2
    from docutils.core import publish_parts

    from amoc.experiments import load_config
    from tests.conftest import REPO_ROOT

    config = load_config(REPO_ROOT / "config" / "config.yaml")
    template = (REPO_ROOT / "workflow" / "report" / "workflow.rst").read_text()
    text = jinja2.Template(template).render(snakemake=types.SimpleNamespace(config=config))
    t1 = config["experiments"]["table1"]
    assert (f"``table1`` (table1): synthwalk; {len(t1['variants'])} variant(s); "
            f"{t1['splits']} split(s) x 1 seed(s)") in text
    assert f"preset\n``{config['preset']}``" in text and "`claims.html`_" in text
    targets = "".join(f".. _{name}: x\n" for name in re.findall(r"`([\w.]+\.html)`_", text))
    publish_parts(f"{text}\n\n{targets}", writer_name="html",
                  settings_overrides={"halt_level": 2, "report_level": 5})
