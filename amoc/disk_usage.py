"""`amoc du`: disk use of every intermediate under results/, grouped by pipeline stage.

Which stage to clean (or move to scratch) first is the question on a cluster quota: the frame
caches and flow stores of the real datasets are tens of GB, the per-run logs are many small files.
The tree is walked with os.scandir, one directory at a time, keeping only per-item totals, so
memory stays bounded on results trees with millions of files.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from amoc.errors import AmocError

# Stages in pipeline order; results/data/{ds}/ is split into raw, index and cache below.
ORDER = ("data raw", "indexes", "caches", "splits", "flow stores", "pretrain", "models",
         "curves", "eval rows", "rows/summaries", "tables", "figures", "logs", "benchmarks", "other")
# First folder under results/ -> (stage, how many folders below it name an item).
TOP_LEVEL: dict[str, tuple[str, int]] = {
    "splits": ("splits", 1),  # splits/{ds}/split{k}.json
    "flow": ("flow stores", 2),  # flow/{ds}/{method}/
    "pretrain": ("pretrain", 2),  # pretrain/{source}/{method}/w{width}_{colour}/{persons}.pt
    "models": ("models", 1),  # models/{ds}/{train_hash}/split{k}.pt
    "curves": ("curves", 2),  # curves/{train,pretrain}/{ds}/.../*.json (--log-json)
    "eval": ("eval rows", 1),  # eval/{ds}/{train_hash}/{eval_hash}/split{k}.parquet
    "rows": ("rows/summaries", 0),
    "summary": ("rows/summaries", 0),
    "tables": ("tables", 0),
    "figures": ("figures", 0),
    "logs": ("logs", 1),  # logs/{rule}/...
    "benchmarks": ("benchmarks", 1),  # benchmarks/{rule}/...
}


@dataclass
class Usage:
    """Totals of a stage or item: apparent size, allocated size (what du counts), file count."""

    bytes: int = 0
    disk_bytes: int = 0
    files: int = 0

    def add(self, st: os.stat_result) -> None:
        """Count one file."""
        self.bytes += st.st_size
        self.disk_bytes += st.st_blocks * 512
        self.files += 1


@dataclass
class Stage:
    """A stage's totals and its items' (a dataset, a flow method, a rule's logs)."""

    total: Usage = field(default_factory=Usage)
    items: dict[str, Usage] = field(default_factory=dict)


def classify(parts: tuple[str, ...]) -> tuple[str, str]:
    """(stage, item) of a file from its path parts under results/.

    results/data/{ds}/ holds raw/ (generated or extracted; a downloaded archive sits beside it),
    index.parquet and cache/. Files above an item's depth belong to the folder they are in.
    """
    top, rest = parts[0], parts[1:]
    if top == "data" and rest:
        kind = rest[1] if len(rest) > 1 else ""
        stage = {"cache": "caches", "index.parquet": "indexes"}.get(kind, "data raw")
        return stage, rest[0]
    if top not in TOP_LEVEL or not rest:
        return "other", top
    stage, depth = TOP_LEVEL[top]
    item = rest[:depth] if len(rest) > depth else rest[:-1]
    return stage, "/".join(item) or top


def walk_files(root: Path) -> Iterator[tuple[tuple[str, ...], os.stat_result]]:
    """(path parts under root, lstat) of every non-directory, depth first; symlinks not followed.

    Holds one open scandir iterator per level, so memory grows with depth, not with the number
    of entries; entries that vanish mid-walk (a running workflow) are skipped.
    """
    stack = [(os.scandir(root), ())]
    try:
        while stack:
            entries, prefix = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()[0].close()
                continue
            parts = (*prefix, entry.name)
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((os.scandir(entry.path), parts))
                else:
                    yield parts, entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
    finally:
        for entries, _ in stack:
            entries.close()


def disk_usage(results: Path) -> dict[str, Stage]:
    """Per-stage and per-item usage of `results`, stages in pipeline order (empty ones left out)."""
    if not results.is_dir():
        raise AmocError(f"no results folder at {results}: run the workflow first, or pass "
                        "--results with the folder that holds data/, flow/, models/ ...")
    stages: dict[str, Stage] = {}
    for parts, st in walk_files(results):
        label, item = classify(parts)
        stage = stages.setdefault(label, Stage())
        stage.total.add(st)
        stage.items.setdefault(item, Usage()).add(st)
    return {label: stages[label] for label in ORDER if label in stages}


def human(n: int) -> str:
    """Bytes in binary units, as `du -h` would."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def grand_total(stages: dict[str, Stage]) -> Usage:
    total = Usage()
    for stage in stages.values():
        total.bytes += stage.total.bytes
        total.disk_bytes += stage.total.disk_bytes
        total.files += stage.total.files
    return total


def as_json(results: Path, stages: dict[str, Stage]) -> dict:
    """The machine-readable report: exact integer bytes; items sorted by name."""
    return {
        "results": str(results),
        "total": vars(grand_total(stages)),
        "stages": [
            {"stage": label, **vars(stage.total),
             "items": {name: vars(u) for name, u in sorted(stage.items.items())}}
            for label, stage in stages.items()
        ],
    }


def as_text(results: Path, stages: dict[str, Stage], top: int) -> str:
    """A table of disk use and file counts: each stage, then its `top` largest items."""
    lines = [f"disk use of {results}", f"{'stage':<28}{'size':>12}{'files':>10}"]
    for label, stage in stages.items():
        lines.append(f"{label:<28}{human(stage.total.disk_bytes):>12}{stage.total.files:>10}")
        largest = sorted(stage.items.items(), key=lambda kv: (-kv[1].disk_bytes, kv[0]))
        for name, usage in largest[:top]:
            lines.append(f"  {name:<26}{human(usage.disk_bytes):>12}{usage.files:>10}")
        if len(largest) > top:
            lines.append(f"  ... {len(largest) - top} more")
    total = grand_total(stages)
    lines.append(f"{'total':<28}{human(total.disk_bytes):>12}{total.files:>10}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """CLI: `amoc du [--results DIR] [--json] [--top N]`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--top", type=int, default=5, help="largest items listed per stage")
    args = parser.parse_args(argv)
    stages = disk_usage(args.results)
    if args.json:
        print(json.dumps(as_json(args.results, stages), indent=2))
    else:
        print(as_text(args.results, stages, args.top))
    return 0


if __name__ == "__main__":
    from amoc.cli import run_command

    raise SystemExit(run_command(main))
