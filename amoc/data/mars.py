"""MARS reader: tracklets from the official info files, cross-checked against the image folders.

Layout: `<root>/bbox_{train,test}/PPPP/PPPPCcTttttFfff.jpg` and `<root>/info/` with
`{train,test}_name.txt`, `tracks_{train,test}_info.mat` (rows [start, end, pid, cam], 1-based rows
into the name list) and `query_IDX.mat` (1-based rows into tracks_test_info). The train/test split
is fixed by these files. Junk (pid -1, folder `00-1`) and distractors (pid 0) stay in the index;
evaluation decides what to do with them. Cameras C1..C6 -> camid 0..5.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.io

from amoc.data.index import SkipReport, make_index, tracklet_row
from amoc.errors import ConfigError, DatasetError

log = logging.getLogger(__name__)

SUBSETS = ("train", "test")
NAME_RE = re.compile(r"(\d{4}|00-1)C(\d)T(\d{4})F(\d+)\.jpg")


@dataclass(frozen=True)
class MarsInfo:
    """The official info arrays: tracks (n, 4) int64 [start, end, pid, cam]; query 0-based rows."""

    tracks: dict[str, np.ndarray]
    query: np.ndarray


def _load_single(path: Path) -> np.ndarray:
    """The one variable stored in a MATLAB info file."""
    if not path.is_file():
        raise DatasetError(f"{path}: MARS info file missing; get info/ from MARS-evaluation")
    try:
        content = scipy.io.loadmat(str(path))
    except (ValueError, OSError) as err:
        raise DatasetError(f"{path}: unreadable MATLAB file ({err})") from err
    keys = [k for k in content if not k.startswith("__")]
    if len(keys) != 1:
        raise DatasetError(f"{path}: expected one variable, found {keys}")
    return np.asarray(content[keys[0]]).astype(np.int64)


def load_mars_info(info_dir: str | os.PathLike) -> MarsInfo:
    """Load and shape-check tracks_{train,test}_info.mat and query_IDX.mat."""
    info_dir = Path(info_dir)
    tracks = {}
    for subset in SUBSETS:
        path = info_dir / f"tracks_{subset}_info.mat"
        array = _load_single(path)
        if array.ndim != 2 or array.shape[1] != 4:
            raise DatasetError(f"{path}: expected rows [start, end, pid, cam], got {array.shape}")
        if (array[:, 0] < 1).any() or (array[:, 1] < array[:, 0]).any():
            raise DatasetError(f"{path}: a row has start < 1 or end < start")
        tracks[subset] = array
    path = info_dir / "query_IDX.mat"
    query = _load_single(path).ravel() - 1
    if query.size == 0 or query.min() < 0 or query.max() >= len(tracks["test"]):
        raise DatasetError(f"{path}: query rows must lie in 1..{len(tracks['test'])}")
    return MarsInfo(tracks=tracks, query=query)


def _read_names(root: Path, subset: str, n_needed: int) -> list[str]:
    """The frame name list of a subset; it must cover every row the info file refers to."""
    path = root / "info" / f"{subset}_name.txt"
    if not path.is_file():
        raise DatasetError(f"{path}: MARS name list missing; get info/ from MARS-evaluation")
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if len(names) != n_needed:
        raise DatasetError(
            f"{path}: has {len(names)} names but tracks_{subset}_info.mat covers rows 1..{n_needed};"
            " the info files do not belong together, re-download info/"
        )
    return names


def _check_on_disk(root: Path, subset: str, names: list[str]) -> None:
    """Every listed frame must exist under bbox_<subset>/<first 4 chars>/ (one listing per folder)."""
    base = root / f"bbox_{subset}"
    if not base.is_dir():
        raise DatasetError(f"{base}: image folder missing; extract bbox_{subset}.zip into {root}")
    present = set()
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        present.update(f"{folder.name}/{entry.name}" for entry in os.scandir(folder))
    absent = [n for n in names if f"{n[:4]}/{n}" not in present]
    if absent:
        raise DatasetError(
            f"{root / 'info' / f'{subset}_name.txt'}: {len(absent)} listed frame(s) not found under "
            f"{base}, e.g. {absent[0]}; re-extract bbox_{subset}.zip"
        )


def _tracklet_frames(names: list[str], track: np.ndarray, subset: str, where: Path
                     ) -> tuple[list[str], int]:
    """Names of one tracklet in numeric frame order, checked against the info row's pid and cam."""
    start, end, pid, cam = (int(v) for v in track)
    chunk = names[start - 1:end]
    numbers = []
    for name in chunk:
        match = NAME_RE.fullmatch(name)
        if match is None:
            raise DatasetError(f"{where}: {name!r} is not a MARS frame name (PPPPCcTttttFfff.jpg)")
        name_pid = -1 if match.group(1) == "00-1" else int(match.group(1))
        if (name_pid, int(match.group(2))) != (pid, cam):
            raise DatasetError(f"{where}: {name} is listed in rows {start}..{end} of "
                               f"tracks_{subset}_info.mat, whose pid/cam is {pid}/{cam}")
        numbers.append(int(match.group(4)))
    order = np.argsort(numbers, kind="stable")
    ordered = [numbers[i] for i in order]
    if len(set(ordered)) != len(ordered):
        raise DatasetError(f"{where}: duplicate frame number in rows {start}..{end} ({chunk[0]})")
    return [chunk[i] for i in order], ordered[-1] - ordered[0] + 1 - len(ordered)


def _subset_rows(root: Path, subset: str, info: MarsInfo, min_frames: int, report: SkipReport
                 ) -> list[dict]:
    """Index rows of one subset; tracklet names are `<subset>/<1-based info row>-<prefix>`."""
    tracks = info.tracks[subset]
    names = _read_names(root, subset, int(tracks[:, 1].max()))
    _check_on_disk(root, subset, names)
    queries = set(info.query.tolist()) if subset == "test" else set()
    where, base, rows = root / "info" / f"{subset}_name.txt", root / f"bbox_{subset}", []
    for i, track in enumerate(tracks):
        ordered, gaps = _tracklet_frames(names, track, subset, where)
        tracklet = f"{subset}/{i + 1:05d}-{ordered[0][:11]}"
        if gaps:
            report.gaps[tracklet] = gaps
        if len(ordered) < min_frames:
            report.skip(tracklet, base / ordered[0][:4],
                        f"min_frames: {len(ordered)} frame(s) < {min_frames}")
            continue
        paths = [f"{base}/{n[:4]}/{n}" for n in ordered]
        rows.append(tracklet_row("mars", int(track[2]), int(track[3]) - 1, tracklet, paths,
                                 subset=subset, is_query=i in queries))
    return rows


def read_mars(root: str | os.PathLike, min_frames: int = 1) -> pd.DataFrame:
    """Index MARS (8298 train + 12180 test tracklets, 1980 of them queries)."""
    if min_frames < 1:
        raise ConfigError(f"min_frames must be >= 1, got {min_frames}")
    root = Path(root).expanduser().resolve()
    if not (root / "info").is_dir():
        raise DatasetError(
            f"mars root {root} {'not found' if not root.exists() else 'has no info/ folder'}; put "
            f"bbox_train/, bbox_test/ and info/ (from MARS-evaluation) directly under {root}"
        )
    info = load_mars_info(root / "info")
    report = SkipReport("mars", options={"root": str(root), "min_frames": min_frames})
    rows = [r for s in SUBSETS for r in _subset_rows(root, s, info, min_frames, report)]
    if report.gaps:
        log.warning("mars: %d tracklet(s) have gaps in their frame numbers (kept; see report)",
                    len(report.gaps))
    report.extra["n_queries"] = int(sum(r["is_query"] for r in rows))
    return make_index(rows, report)
