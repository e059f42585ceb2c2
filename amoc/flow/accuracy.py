"""Accuracy and speed of every flow method on synthetic pairs with known motion.

`python -m amoc.flow.accuracy [--pairs N] [--seed S]` prints the table (Markdown) that the
benchmark report uses to justify the default method; the numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np

from amoc.cli import run_command
from amoc.flow.methods import FLOW_METHODS, compute_flow, get_method
from amoc.flow.synthetic import FlowPair, endpoint_error, make_pairs

log = logging.getLogger(__name__)


def measure_method(method: str, pairs: list[FlowPair]) -> dict:
    """Mean end-point error (128x64 pixels) and mean milliseconds per pair of one method."""
    get_method(method)
    compute_flow(method, pairs[0].frame0, pairs[0].frame1)  # warm-up: first-call allocations
    errors, seconds = [], 0.0
    for pair in pairs:
        started = time.perf_counter()
        flow = compute_flow(method, pair.frame0, pair.frame1)
        seconds += time.perf_counter() - started
        errors.append(endpoint_error(flow, pair.flow, pair.valid))
    return {"method": method, "epe": float(np.mean(errors)), "epe_max": float(np.max(errors)),
            "ms_per_pair": 1000.0 * seconds / len(pairs)}


def measure_methods(
    methods: list[str] | None = None, n_pairs: int = 16, seed: int = 0
) -> list[dict]:
    """One row (method, epe, epe_max, ms_per_pair) per method, all on the same synthetic pairs."""
    pairs = make_pairs(n_pairs, seed)
    return [measure_method(name, pairs) for name in (methods or list(FLOW_METHODS))]


def format_table(rows: list[dict]) -> str:
    """Markdown table of `measure_methods` rows."""
    lines = ["| method | EPE | max EPE | ms/pair |", "|---|---|---|---|"]
    lines += [f"| {r['method']} | {r['epe']:.3f} | {r['epe_max']:.3f} | {r['ms_per_pair']:.2f} |"
              for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`python -m amoc.flow.accuracy [--methods a b] [--pairs N] [--seed S]`: print the table."""
    parser = argparse.ArgumentParser(prog="amoc.flow.accuracy", description=__doc__)
    parser.add_argument("--methods", nargs="*", help=f"default: all of {sorted(FLOW_METHODS)}")
    parser.add_argument("--pairs", type=int, default=16, help="synthetic pairs per method")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(format_table(measure_methods(args.methods, args.pairs, args.seed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_command(main))
