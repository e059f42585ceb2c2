"""The common tracklet index: one row per tracklet, the same columns for every dataset.

Readers collect rows and a `SkipReport`; `make_index` sorts and validates them into the DataFrame
contract of docs/architecture.md and keeps the report in `DataFrame.attrs["report"]`, which
`write_index` stores in the Parquet metadata so nothing is ever dropped silently.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from amoc.atomic import write_atomic
from amoc.data.frames import list_frame_files, sort_frames
from amoc.errors import DatasetError

log = logging.getLogger(__name__)

COLUMNS = ["dataset", "pid", "camid", "tracklet", "n_frames", "frame_paths", "subset", "is_query"]
REPORT_KEY = b"amoc_report"


@dataclass
class SkipReport:
    """What a reader left out or found odd, and why; written into the index and cache.json."""

    dataset: str
    options: dict[str, Any] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)
    gaps: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def skip(self, item: str, path: str | os.PathLike, reason: str) -> None:
        """Record (and log) one skipped tracklet or person."""
        log.warning("%s: skipping %s (%s): %s", self.dataset, item, path, reason)
        self.skipped.append({"item": item, "path": str(path), "reason": reason})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary with per-reason counts."""
        counts = Counter(s["reason"].split(":")[0] for s in self.skipped)
        return {
            "dataset": self.dataset,
            "options": self.options,
            "skipped": self.skipped,
            "skipped_counts": dict(sorted(counts.items())),
            "n_skipped": len(self.skipped),
            "gaps": self.gaps,
            **self.extra,
        }


def scan_sequence(folder: Path, name: str, report: SkipReport) -> list[str]:
    """Absolute frame paths of one sequence folder in numeric order; gaps are logged and recorded.

    Gaps are allowed because a missing frame number does not break the order of what is there;
    the number of missing frames is kept in the report so it can be audited.
    """
    frames, gaps = sort_frames(list_frame_files(folder))
    if gaps:
        log.warning("%s: %d frame number(s) missing in %s", report.dataset, gaps, folder)
        report.gaps[name] = gaps
    return [str(p) for p in frames]


def tracklet_row(
    dataset: str, pid: int, camid: int, tracklet: str, frames: list[str],
    subset: str = "all", is_query: bool = False,
) -> dict[str, Any]:
    """One index row as a dict in the column order of the contract."""
    return {
        "dataset": dataset, "pid": int(pid), "camid": int(camid), "tracklet": tracklet,
        "n_frames": len(frames), "frame_paths": list(frames), "subset": subset,
        "is_query": bool(is_query),
    }


def make_index(rows: list[dict[str, Any]], report: SkipReport) -> pd.DataFrame:
    """Build the sorted, validated index DataFrame; the report goes into `attrs["report"]`."""
    if not rows:
        raise DatasetError(
            f"{report.dataset}: no tracklets left after filtering "
            f"({len(report.skipped)} skipped); check the dataset root and the min_frames option"
        )
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame = frame.astype({"pid": "int64", "camid": "int64", "n_frames": "int64", "is_query": bool})
    frame = frame.sort_values(["camid", "pid", "tracklet"], kind="stable").reset_index(drop=True)
    validate_index(frame)
    frame.attrs["report"] = report.to_dict()
    log.info("%s: %d tracklets, %d persons, %d frames, %d skipped", report.dataset, len(frame),
             frame["pid"].nunique(), int(frame["n_frames"].sum()), len(report.skipped))
    return frame


def validate_index(frame: pd.DataFrame) -> None:
    """Check the column contract; raise DatasetError naming the first problem."""
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DatasetError(f"index lacks column(s) {missing}; rebuild it with amoc.data.index_cli")
    if frame["tracklet"].duplicated().any():
        dup = frame.loc[frame["tracklet"].duplicated(), "tracklet"].iloc[0]
        raise DatasetError(f"index has duplicate tracklet name {dup!r}")
    lengths = frame["frame_paths"].map(len)
    if not (lengths == frame["n_frames"]).all() or (lengths < 1).any():
        raise DatasetError("index n_frames disagrees with frame_paths (or a tracklet is empty)")


def write_index(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write the index as Parquet atomically, keeping `attrs["report"]` in the file metadata."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    report = json.dumps(frame.attrs.get("report", {}), sort_keys=True).encode()
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), REPORT_KEY: report})
    write_atomic(path, lambda tmp: pq.write_table(table, tmp))


def read_index(path: str | os.PathLike) -> pd.DataFrame:
    """Read an index written by `write_index`; frame_paths become lists of str again."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: index file not found; build it with amoc.data.index_cli")
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as err:
        raise DatasetError(f"{path}: unreadable index ({err}); rebuild it") from err
    frame = table.to_pandas()
    frame["frame_paths"] = frame["frame_paths"].map(list)
    validate_index(frame)
    raw = (table.schema.metadata or {}).get(REPORT_KEY)
    frame.attrs["report"] = json.loads(raw) if raw else {}
    return frame


Sequences = dict[int, tuple[str, list[str]]]  # pid -> (tracklet name, frame paths)


def scan_camera(cam_dir: Path, cam_name: str, person_re: re.Pattern, report: SkipReport) -> Sequences:
    """Read every person folder of one camera folder (sorted), e.g. `cam1/person001`.

    A folder whose name does not match `person_re` means a wrong layout and is an error; an
    empty person folder is skipped and recorded.
    """
    sequences: Sequences = {}
    for entry in sorted(p for p in cam_dir.iterdir() if p.is_dir()):
        match = person_re.fullmatch(entry.name)
        if match is None:
            raise DatasetError(
                f"{entry}: unexpected folder in {cam_dir}; expected names like "
                f"{person_re.pattern!r} (is the dataset root right?)"
            )
        name = f"{cam_name}/{entry.name}"
        frames = scan_sequence(entry, name, report)
        if not frames:
            report.skip(name, entry, "empty: no image files")
            continue
        sequences[int(match.group(1))] = (name, frames)
    return sequences


def paired_rows(
    dataset: str, cameras: list[Sequences], pids: list[int], min_frames: int, report: SkipReport
) -> list[dict[str, Any]]:
    """Rows for persons seen in every camera with at least `min_frames` frames per sequence.

    Short sequences are skipped first; a person then missing from a camera is skipped as a whole
    (a probe without its gallery sequence cannot be evaluated). Both are recorded in `report`.
    """
    rows = []
    for pid in pids:
        kept = []
        for camid, sequences in enumerate(cameras):
            if pid not in sequences:
                continue
            name, frames = sequences[pid]
            if len(frames) < min_frames:
                report.skip(name, Path(frames[0]).parent,
                            f"min_frames: {len(frames)} frame(s) < {min_frames}")
            else:
                kept.append(tracklet_row(dataset, pid, camid, name, frames))
        if len(kept) == len(cameras):
            rows.extend(kept)
        else:
            seen = ", ".join(r["tracklet"] for r in kept) or "nothing"
            report.skip(f"person {pid}", seen, f"one_camera: usable sequence only in {seen}")
    return rows
