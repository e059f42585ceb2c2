"""Speed benchmarks printed as one Markdown table: ``python -m amoc.bench``.

Usage:
    python -m amoc.bench [--device auto|cpu|cuda] [--quick] [--compile]
        [--sections train features eval flow] [--out table.md]

Every row gives a figure, its unit, the device, the baseline it is compared to (measured in
the same run) and the ratio. ``--quick`` uses tiny sizes so that the whole table takes well
under a minute on 2 CPU cores (the test suite runs it); the figures are then only smoke values.
See bench/README.md for what each row means and the targets.
"""

from __future__ import annotations

import argparse
import logging
import time

from amoc.bench.rows import device_name, publish
from amoc.bench.suite import CPU_FULL, CUDA_FULL, QUICK, SECTIONS, collect_rows
from amoc.cli import run_command
from amoc.train.inputs import resolve_device

log = logging.getLogger(__name__)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="amoc bench", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--quick", action="store_true", help="tiny sizes (< 60 s on 2 cores)")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile the model in batched training mode")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                        help="parts of the table to measure (cache RAM rows are always shown)")
    parser.add_argument("--out", help="also write the table to this Markdown file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table, and write it to ``--out`` if given."""
    args = parse_args(argv)
    device = resolve_device(args.device)
    sizes = QUICK if args.quick else CUDA_FULL if device.type == "cuda" else CPU_FULL
    started = time.perf_counter()
    rows = collect_rows(device, sizes, args.sections, args.compile)
    log.info("benchmark took %.0f s on %s", time.perf_counter() - started, device_name(device))
    return publish(rows, args.out)


if __name__ == "__main__":
    raise SystemExit(run_command(main))
