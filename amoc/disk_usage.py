"""`amoc du`: disk use of every intermediate under results/, grouped by pipeline stage.

Which stage to clean (or move to scratch) first is the question on a cluster quota: the frame
caches and flow stores of the real datasets are tens of GB, the per-run logs are many small files.
The tree is walked with os.scandir, one directory at a time, keeping only per-item totals, so
memory stays bounded on results trees with millions of files.

``--orphans`` lists the trained models and evaluations that no current config points to (the
default config plus every ``--configfile`` given: a variant added by an override file is current
only while that file is passed), and ``--delete`` removes them after a confirmation (or ``--yes``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from amoc.errors import AmocError, ConfigError

# Stages in pipeline order; results/data/{ds}/ is split into raw, index and cache below.
ORDER = ("data raw", "indexes", "caches", "splits", "flow stores", "pretrain", "models",
         "curves", "eval rows", "rows/summaries", "tables", "figures", "report pages", "logs",
         "benchmarks", "other")
# First folder under results/ -> (stage, how many folders below it name an item).
TOP_LEVEL: dict[str, tuple[str, int]] = {
    "splits": ("splits", 1),  # splits/{ds}/split{k}.json
    "flow": ("flow stores", 2),  # flow/{ds}/{method}/
    "pretrain": ("pretrain", 2),  # pretrain/{source}/{method}/w{width}_{colour}/{persons}.pt
    "models": ("models", 1),  # models/{ds}/{train_hash}/{training}.pt
    "curves": ("curves", 2),  # curves/{train,pretrain}/{ds}/.../*.json (--log-json)
    "eval": ("eval rows", 1),  # eval/{ds}/{train_hash}/{eval_hash}/{training}.parquet
    "rows": ("rows/summaries", 0),
    "summary": ("rows/summaries", 0),
    "tables": ("tables", 0),
    "figures": ("figures", 0),
    "report": ("report pages", 0),  # report/{table}.html (amoc.report.pages)
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


def current_config(configfiles: Sequence[str]) -> dict:
    """config/config.yaml with each ``--configfile`` merged over it in order, as Snakemake does.

    Raises:
        ConfigError: a file that cannot be read or is not a YAML mapping, or a merged config
        that fails validation.
    """
    import yaml
    from snakemake.utils import update_config

    from amoc.experiments import validate_config
    from amoc.plan import load_merged

    config = load_merged(configfiles[0] if configfiles else None)  # checks the first file
    for path in configfiles[1:]:
        try:
            override = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as err:
            raise ConfigError(f"--configfile {path}: cannot read it ({err})") from err
        if not isinstance(override, dict):
            raise ConfigError(f"--configfile {path}: expected a YAML mapping of config keys")
        update_config(config, override)
    if len(configfiles) > 1:
        validate_config(config, source=", ".join(configfiles))
    return config


def orphans(results: Path, config: dict) -> list[Path]:
    """Model folders ``models/{ds}/{train_hash}`` and evaluation folders
    ``eval/{ds}/{train_hash}/{eval_hash}`` under ``results`` that ``config``'s plan does not use."""
    from amoc.experiments import plan

    p = plan(config)
    wanted_models = {(j.dataset, j.train_hash) for j in p.train_jobs.values()}
    wanted_evals = {(j.dataset, j.train_hash, j.eval_hash) for j in p.eval_jobs.values()}
    found = [(d, (d.parent.name, d.name), wanted_models)
             for d in sorted(results.glob("models/*/*")) if d.is_dir()]
    found += [(d, (d.parent.parent.name, d.parent.name, d.name), wanted_evals)
              for d in sorted(results.glob("eval/*/*/*")) if d.is_dir()]
    return [path for path, key, wanted in found if key not in wanted]


def _folder_bytes(path: Path) -> int:
    return sum(st.st_blocks * 512 for _, st in walk_files(path))


def report_orphans(results: Path, configfiles: Sequence[str], delete: bool, yes: bool) -> str:
    """List (and with ``delete`` remove, after a confirmation unless ``yes``) the orphans."""
    found = orphans(results, current_config(configfiles))
    used = "config/config.yaml" + "".join(f" + {f}" for f in configfiles)
    if not found:
        return f"no orphans: every model and evaluation under {results} is used by {used}"
    sizes = {path: _folder_bytes(path) for path in found}
    head = (f"{len(found)} model/evaluation folder(s) under {results} that {used} does not use "
            f"({human(sum(sizes.values()))}); a variant added with --configfile is used only "
            "while that file is passed:")
    lines = [head]
    lines += [f"  {path}  {human(size)}" for path, size in sizes.items()]
    if not delete:
        return "\n".join(lines + ["delete them with: amoc du --orphans --delete [--configfile ...]"])
    print("\n".join(lines))
    if not yes:
        ask = sys.stdin.isatty()
        answer = input(f"delete these {len(found)} folders? [y/N] ") if ask else ""
        if answer.strip().lower() not in ("y", "yes"):
            return "nothing deleted (pass --yes to delete without asking)"
    for path in found:
        shutil.rmtree(path)
    return f"deleted {len(found)} folder(s), {human(sum(sizes.values()))}"


def main(argv: list[str] | None = None) -> int:
    """CLI: `amoc du [--results DIR] [--json] [--top N] [--orphans [--delete] [--yes]]`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--top", type=int, default=5, help="largest items listed per stage")
    parser.add_argument("--orphans", action="store_true",
                        help="list models and evaluations no current config points to")
    parser.add_argument("--configfile", nargs="+", default=[],
                        help="the override files the workflow is run with (as for snakemake)")
    parser.add_argument("--delete", action="store_true", help="with --orphans: delete them")
    parser.add_argument("--yes", action="store_true", help="with --delete: do not ask")
    args = parser.parse_args(argv)
    if args.orphans:
        if not args.results.is_dir():
            raise AmocError(f"no results folder at {args.results}")
        print(report_orphans(args.results, args.configfile, args.delete, args.yes))
        return 0
    stages = disk_usage(args.results)
    if args.json:
        print(json.dumps(as_json(args.results, stages), indent=2))
    else:
        print(as_text(args.results, stages, args.top))
    return 0


if __name__ == "__main__":
    from amoc.cli import run_command

    raise SystemExit(run_command(main))
