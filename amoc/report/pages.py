"""Markdown tables of the run (Tables I-IV, claims, flow error) as HTML pages for the report.

``snakemake --report`` shows an HTML result inline, while a CSV or Markdown file is only a
download; so every Markdown table the workflow writes also gets a self-contained HTML page. The
Markdown is this project's own (``amoc.report.render``, ``claims``, ``flow_error``): paragraphs,
``#`` headings, ``- `` lists and GitHub pipe tables, with inline ``code`` and **bold**.
"""

from __future__ import annotations

import argparse
import html
import re
from pathlib import Path

from amoc.atomic import write_text_atomic
from amoc.cli import run_command

STYLE = """
body { font-family: system-ui, sans-serif; font-size: 14px; margin: 1em; color: #222; }
p { max-width: 75em; line-height: 1.4; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #bbb; padding: 3px 8px; text-align: right; white-space: nowrap; }
th { background: #eee; position: sticky; top: 0; white-space: normal; min-width: 3em; }
td:first-child, td:nth-child(2), th:first-child { text-align: left; }
tr:nth-child(even) td { background: #f7f7f7; }
code { background: #f0f0f0; padding: 0 2px; }
"""


def _inline(text: str) -> str:
    """Escape, then `code` and **bold**."""
    text = html.escape(text, quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", text)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _table(lines: list[str]) -> str:
    """A pipe table (header, ``---`` rule, rows) as an HTML table."""
    head = "".join(f"<th>{_inline(c)}</th>" for c in _cells(lines[0]))
    body = ["<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in _cells(line)) + "</tr>"
            for line in lines[2:]]
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(body) + \
        "\n</tbody>\n</table>"


def _block(lines: list[str]) -> str:
    first = lines[0]
    if first.startswith("|") and len(lines) > 1 and set(lines[1].replace("|", "")) <= set("-: "):
        return _table(lines)
    if first.startswith("#"):
        level = min(len(first) - len(first.lstrip("#")), 6)
        return f"<h{level}>{_inline(first.lstrip('#').strip())}</h{level}>"
    if first.startswith("- "):
        return "<ul>" + "".join(f"<li>{_inline(x[2:])}</li>" for x in lines) + "</ul>"
    return f"<p>{_inline(' '.join(lines))}</p>"


def markdown_to_html(text: str, title: str) -> str:
    """A standalone HTML page of ``text`` (blocks separated by blank lines)."""
    blocks, current = [], []
    for line in text.splitlines():
        if line.strip():
            current.append(line.rstrip())
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    body = "\n".join(_block(b) for b in blocks)
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}"
            f"</title><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")


def main(argv: list[str] | None = None) -> int:
    """CLI: write the HTML page of one Markdown table."""
    parser = argparse.ArgumentParser(prog="amoc page", description=__doc__.splitlines()[0])
    parser.add_argument("--md", required=True, help="Markdown file written by the workflow")
    parser.add_argument("--out", required=True, help="HTML page to write")
    parser.add_argument("--title", help="page title (default: the file's stem)")
    args = parser.parse_args(argv)
    text = Path(args.md).read_text(encoding="utf-8")
    write_text_atomic(args.out, markdown_to_html(text, args.title or Path(args.md).stem))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_command(main))
