"""The `amoc` console script: `amoc <command> [args]` runs `python -m amoc.<module>` in-process."""

from __future__ import annotations

import importlib
import logging
import sys

from amoc.errors import AmocError
from amoc.lifeline import exit_with_parent

COMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("amoc.data.synthwalk.__main__", "generate the built-in synthetic dataset"),
    "fetch": ("amoc.data.fetch", "download/verify/extract a real dataset archive"),
    "index": ("amoc.data.index_cli", "build the tracklet index of a dataset"),
    "cache": ("amoc.data.cache", "decode a dataset once into the uint8 frame cache"),
    "splits": ("amoc.data.splits", "write the train/test person splits"),
    "flow": ("amoc.flow.store", "compute an offline optical-flow store"),
    "pretrain": ("amoc.train.pretrain_motion", "pre-train the motion net on offline flow"),
    "train": ("amoc.train.run", "train one model on one split"),
    "lockstep": ("amoc.train.lockstep", "train the splits and seeds of one variant together"),
    "evaluate": ("amoc.eval.evaluate", "extract features and write result rows"),
    "collect": ("amoc.report.collect", "label one experiment's rows and aggregate them"),
    "tables": ("amoc.report.tables", "render the paper's tables"),
    "figures": ("amoc.report.figures", "render the paper's figures"),
    "fig5": ("amoc.report.fig5", "draw Fig. 5 from the pre-trained motion net"),
    "curves": ("amoc.report.curves", "draw one experiment's training curves"),
    "ranked": ("amoc.report.ranked", "draw a model's ranked results on one split"),
    "claims": ("amoc.report.claims", "test the paper's claims on this run's results"),
    "rank1_curves": ("amoc.report.rank1_curves", "rank-1 over training milestones"),
    "flow_error": ("amoc.eval.flow_error", "motion-net and offline flow error vs ground truth"),
    "page": ("amoc.report.pages", "a Markdown table as an HTML page for the report"),
    "bench": ("amoc.bench.__main__", "print the speed benchmark table"),
    "du": ("amoc.disk_usage", "report disk use of every intermediate"),
    "plan": ("amoc.plan", "jobs, cost and projected wall time of a config's DAG"),
}


def run_command(command_main, argv: list[str] | None = None) -> int:
    """Run a sub-command's `main(argv)` with logging set up; user errors exit 2 without a traceback.

    Every `amoc/<module>.py` that is a command ends with
    `if __name__ == "__main__": raise SystemExit(run_command(main))`. The job exits when the
    workflow that started it dies (amoc.lifeline), so no orphan keeps writing its outputs.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    exit_with_parent()
    try:
        return int(command_main(argv) or 0)
    except AmocError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    """Dispatch to a sub-command module's `main(argv)`; user errors exit 2 without a traceback."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"} or argv[0] not in COMMANDS:
        lines = [f"  {name:10s} {help_}" for name, (_, help_) in COMMANDS.items()]
        print("usage: amoc <command> [args]\n\ncommands:\n" + "\n".join(lines))
        return 0 if not argv or argv[0] in {"-h", "--help"} else 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    return run_command(module.main, argv[1:])


if __name__ == "__main__":
    sys.exit(main())
