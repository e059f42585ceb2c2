"""`python -m amoc.data.synthwalk --out DIR`: generate the synthwalk dataset (`amoc synth`)."""

from __future__ import annotations

import argparse

from amoc.cli import run_command
from amoc.data.synthwalk.generate import generate_synthwalk


def build_parser() -> argparse.ArgumentParser:
    """Arguments mirror `generate_synthwalk`'s keywords."""
    parser = argparse.ArgumentParser(prog="amoc synth", description=__doc__)
    parser.add_argument("--out", required=True,
                        help="output folder; receives i-LIDS-VID/sequences/... and synthwalk.json")
    parser.add_argument("--n-ids", type=int, default=40, help="number of identities (>= 2)")
    parser.add_argument("--min-len", type=int, default=24, help="shortest sequence, frames (>= 2)")
    parser.add_argument("--max-len", type=int, default=48, help="longest sequence, frames")
    parser.add_argument("--seed", type=int, default=0, help="random seed (>= 0)")
    parser.add_argument("--twin-fraction", type=float, default=0.5,
                        help="fraction of identities in same-clothes, different-gait pairs")
    parser.add_argument("--threads", type=int, default=1,
                        help="render in this many processes (same bytes for any number)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Generate the dataset; ConfigError (exit 2) names a bad argument."""
    args = build_parser().parse_args(argv)
    generate_synthwalk(args.out, n_ids=args.n_ids, min_len=args.min_len, max_len=args.max_len,
                       seed=args.seed, twin_fraction=args.twin_fraction,
                       threads=args.threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_command(main))
