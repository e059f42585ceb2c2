"""`python -m amoc.data.index_cli`: build the tracklet index of one dataset as Parquet."""

from __future__ import annotations

import argparse
import logging

from amoc.cli import run_command
from amoc.data.index import write_index
from amoc.data.readers import READERS, read_dataset

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of the index builder."""
    parser = argparse.ArgumentParser(prog="amoc index", description=__doc__)
    parser.add_argument("--dataset", required=True, choices=sorted(READERS))
    parser.add_argument("--root", required=True, help="dataset root folder")
    parser.add_argument("--out", required=True, help="output index.parquet")
    parser.add_argument("--min-frames", type=int, default=1,
                        help="skip (and record) sequences with fewer frames")
    parser.add_argument("--protocol", default=None,
                        help="prid2011 only: paper200 (default) or standard178")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Read the dataset and write the index atomically; skipped items are kept in its metadata."""
    args = build_parser().parse_args(argv)
    opts = {"min_frames": args.min_frames}
    if args.protocol is not None:
        opts["protocol"] = args.protocol
    index = read_dataset(args.dataset, args.root, **opts)
    write_index(index, args.out)
    log.info("wrote %s: %d tracklets, %d skipped", args.out, len(index),
             index.attrs["report"]["n_skipped"])
    return 0


if __name__ == "__main__":
    raise SystemExit(run_command(main))
