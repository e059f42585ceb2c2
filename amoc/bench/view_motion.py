"""How much real re-id crops move, next to synthwalk: the check of synthwalk's motion calibration.

Usage:
    python -m amoc.bench.view_motion [--real DATASET=ROOT ...] [--method dis]
        [--synthwalk-ids 12] [--max-frames 40] [--out table.md]

Each ``--real`` names a reader and a dataset root (``ilidsvid=shared/data/real-mini``,
``prid2011=...``). Frames are resized to 128 x 64 as the cache does and flow is computed with one
offline method on the 64 x 32 grid (`amoc.flow.store.tracklet_flow`), for the real sequences and
for fresh synthwalk renders alike, so the method's own bias is the same on both sides. Per frame
pair, the median flow vector is the view's motion (most pixels of a crop are background: the
box sliding and wobbling over the scene); what is left is the body's own motion. synthwalk's
pan and wobble (`amoc.data.synthwalk.render`) were set from this table (docs/synthwalk.md).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from amoc.atomic import write_text_atomic
from amoc.cli import run_command
from amoc.data.cache import load_frame
from amoc.data.readers import read_dataset
from amoc.data.synthwalk.generate import generate_synthwalk
from amoc.errors import ConfigError
from amoc.flow.store import tracklet_flow

log = logging.getLogger(__name__)

COLUMNS = ("data", "sequences", "pairs", "flow mean", "flow median", "share > 1 px",
           "view mean", "view median", "view p90", "body mean")


def sequence_frames(name: str, root: str | Path, max_frames: int) -> list[np.ndarray]:
    """(T, 128, 64, 3) uint8 frames of every tracklet of a dataset, at most max_frames each."""
    index = read_dataset(name, root)
    return [np.stack([load_frame(p)[0] for p in paths[:max_frames]])
            for paths in index["frame_paths"] if len(paths) >= 2]


def motion_stats(label: str, sequences: Iterable[np.ndarray], method: str) -> dict[str, object]:
    """Flow magnitude, view motion (per-pair median vector) and body motion (the remainder).

    All in pixels of the 64 x 32 grid per frame.
    """
    magnitude, view, body, n_seq = [], [], [], 0
    for frames in sequences:
        flow = tracklet_flow(method, frames)[:-1]  # (T - 1, 64, 32, 2)
        median = np.median(flow.reshape(len(flow), -1, 2), axis=1)  # (T - 1, 2)
        magnitude.append(np.linalg.norm(flow, axis=-1).ravel())
        view.append(np.linalg.norm(median, axis=-1))
        body.append(np.linalg.norm(flow - median[:, None, None], axis=-1).ravel())
        n_seq += 1
    if not n_seq:
        raise ConfigError(f"{label}: no sequence with two or more frames to measure")
    mag, vw, bd = (np.concatenate(x) for x in (magnitude, view, body))
    return {"data": label, "sequences": n_seq, "pairs": len(vw),
            "flow mean": float(mag.mean()), "flow median": float(np.median(mag)),
            "share > 1 px": float((mag > 1).mean()), "view mean": float(vw.mean()),
            "view median": float(np.median(vw)), "view p90": float(np.percentile(vw, 90)),
            "body mean": float(bd.mean())}


def synthwalk_frames(n_ids: int, max_frames: int, seed: int) -> list[np.ndarray]:
    """Fresh synthwalk renders of n_ids identities (both cameras), read back like a dataset."""
    with tempfile.TemporaryDirectory(prefix="amoc-view-motion-") as tmp:
        generate_synthwalk(tmp, n_ids=n_ids, min_len=max_frames // 2, max_len=max_frames,
                           seed=seed)
        return sequence_frames("synthwalk", tmp, max_frames)


def format_table(rows: list[dict[str, object]]) -> str:
    """Markdown table, numbers to 2-3 decimals."""
    def cell(value: object) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell(r[c]) for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _real_arg(text: str) -> tuple[str, str]:
    name, sep, root = text.partition("=")
    if not sep or not name or not root:
        raise argparse.ArgumentTypeError(f"--real {text!r}: expected DATASET=ROOT, "
                                         "e.g. ilidsvid=../shared/data/real-mini")
    return name, root


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="amoc.bench.view_motion",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=_real_arg, nargs="*", default=[],
                        help="DATASET=ROOT of real frames (reader name = root folder)")
    parser.add_argument("--method", default="dis", help="offline flow method for both sides")
    parser.add_argument("--synthwalk-ids", type=int, default=12, help="identities to render")
    parser.add_argument("--max-frames", type=int, default=40, help="frames per sequence, at most")
    parser.add_argument("--seed", type=int, default=0, help="synthwalk seed")
    parser.add_argument("--out", help="also write the table to this Markdown file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Measure every dataset given and synthwalk, print the table."""
    args = parse_args(argv)
    rows = [motion_stats(f"{name} ({root})", sequence_frames(name, root, args.max_frames),
                         args.method) for name, root in args.real]
    rows.append(motion_stats(f"synthwalk ({args.synthwalk_ids} ids, seed {args.seed})",
                             synthwalk_frames(args.synthwalk_ids, args.max_frames, args.seed),
                             args.method))
    table = format_table(rows)
    print(f"flow method {args.method}; pixels of the 64 x 32 grid per frame\n\n{table}", end="")
    if args.out:
        write_text_atomic(args.out, table)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_command(main))
