"""Rows of the ``amoc.bench`` table, their Markdown rendering, and device names."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from amoc.atomic import write_text_atomic

COLUMNS = ("figure", "value", "unit", "device", "baseline (same run)", "ratio", "target", "notes")
GIB = 2**30


@dataclass(frozen=True)
class Row:
    """One measured figure and its comparison.

    Attributes:
        figure: what was measured.
        value: the number, or None when not measurable here (``missing`` says why).
        unit: unit of ``value``.
        device: where it ran (GPU name, or CPU model and thread count).
        baseline: what ``ratio`` compares against, with that baseline's own value.
        ratio: value / baseline value (speed-ups: faster / slower); None when not measurable.
        target: the issue's target for this figure, if any.
        notes: how it was measured.
        missing: text shown instead of ``value`` when it is None (e.g. "n/a (CPU)").
    """

    figure: str
    value: float | None
    unit: str
    device: str
    baseline: str
    ratio: float | None
    target: str = ""
    notes: str = ""
    missing: str = "n/a"


def fmt(x: float) -> str:
    """Thousands-separated integers from 1000 up, three significant digits below."""
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"


def publish(rows: list[Row], out: str | None) -> int:
    """Print the table of `rows` and, with `out`, also write it there atomically; exit code 0."""
    table = format_table(rows)
    print(table)
    if out:
        write_text_atomic(out, table + "\n")
    return 0


def format_table(rows: list[Row]) -> str:
    """The Markdown table, one line per row; '|' inside cells is escaped."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        value = r.missing if r.value is None else fmt(r.value)
        ratio = "n/a" if r.ratio is None else fmt(r.ratio)
        cells = (r.figure, value, r.unit, r.device, r.baseline, ratio, r.target, r.notes)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def finite_positive(x: float | None) -> bool:
    """True for a finite number > 0."""
    return x is not None and math.isfinite(x) and x > 0


def cpu_name() -> str:
    """CPU model from /proc/cpuinfo and torch's intra-op thread count."""
    model = "CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model}, {torch.get_num_threads()} threads"


def device_name(device: torch.device) -> str:
    """The GPU's name on CUDA, else ``cpu_name()``."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return cpu_name()


def ram_bytes() -> int:
    """Physical memory of this machine."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run torch's CPU ops on at most ``n`` threads inside the block."""
    before = torch.get_num_threads()
    torch.set_num_threads(min(n, before))
    try:
        yield
    finally:
        torch.set_num_threads(before)
