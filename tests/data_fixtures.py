"""Builders of tiny dataset trees in the real on-disk layouts, for tests of any stage.

Every frame is a flat colour that encodes where it came from, so ordering can be checked after
decoding: R = frame number, G = pid (junk -1 -> 255), B = 40 * camid (0-based). Files are
created in shuffled order so tests do not pass by relying on directory listing order.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import scipy.io

Lengths = int | Callable[[int, int], int]  # frames per sequence, or f(camid, pid) -> frames


def frame_colour(frame: int, pid: int, camid: int) -> tuple[int, int, int]:
    """RGB colour of a fixture frame (see module docstring)."""
    return frame % 256, pid % 256, (40 * camid) % 256


def write_frame(path: Path, rgb: tuple[int, int, int], size: tuple[int, int] = (128, 64)) -> None:
    """Write a flat-colour RGB frame of (height, width) `size` with OpenCV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.empty((*size, 3), np.uint8)
    image[:] = rgb[::-1]  # OpenCV writes BGR
    if not cv2.imwrite(str(path), image):
        raise OSError(f"could not write {path}")


def _write_shuffled(jobs: list[tuple[Path, tuple[int, int, int]]], size: tuple[int, int],
                    seed: int) -> None:
    random.Random(seed).shuffle(jobs)
    for path, rgb in jobs:
        write_frame(path, rgb, size)


def _length(lengths: Lengths, camid: int, pid: int) -> int:
    return lengths(camid, pid) if callable(lengths) else lengths


def make_ilidsvid_tree(root: Path, n_persons: int = 3, frames_per_seq: Lengths = 6,
                       pad: bool = True, seed: int = 0, first_frame: int = 1,
                       pids: list[int] | None = None) -> Path:
    """`root/i-LIDS-VID/sequences/cam{1,2}/personNNN/camC_personNNN_XXXXX.png`; returns root.

    A length of 0 for (camid, pid) leaves that sequence out (a person seen in one camera).
    `pad=False` writes unpadded frame numbers, whose name order differs from numeric order.
    `pids` gives the person folder numbers (default 1..n_persons); real iLIDS-VID numbers have
    gaps, so a folder's position in the sorted listing is not its number.
    """
    jobs = []
    for camid in (0, 1):
        for pid in pids if pids is not None else range(1, n_persons + 1):
            folder = root / "i-LIDS-VID" / "sequences" / f"cam{camid + 1}" / f"person{pid:03d}"
            for k in range(first_frame, first_frame + _length(frames_per_seq, camid, pid)):
                number = f"{k:05d}" if pad else str(k)
                name = f"cam{camid + 1}_person{pid:03d}_{number}.png"
                jobs.append((folder / name, frame_colour(k, pid, camid)))
    _write_shuffled(jobs, (128, 64), seed)
    return root


def make_prid_tree(root: Path, n_persons: int = 3, frames_per_seq: Lengths = 6,
                   extra_cam_b: int = 0, seed: int = 0) -> Path:
    """`root/prid_2011/multi_shot/cam_{a,b}/person_NNNN/NNNN.png`; returns root.

    Persons 1..n_persons appear in both cameras; `extra_cam_b` more appear in cam_b only.
    """
    jobs = []
    for camid, cam in enumerate(("cam_a", "cam_b")):
        count = n_persons + (extra_cam_b if camid == 1 else 0)
        for pid in range(1, count + 1):
            folder = root / "prid_2011" / "multi_shot" / cam / f"person_{pid:04d}"
            for k in range(1, _length(frames_per_seq, camid, pid) + 1):
                jobs.append((folder / f"{k:04d}.png", frame_colour(k, pid, camid)))
    _write_shuffled(jobs, (128, 64), seed)
    return root


MARS_TRAIN = [(1, 1, 4), (1, 2, 3), (2, 1, 5), (2, 3, 4)]
MARS_TEST = [(-1, 1, 3), (0, 2, 2), (3, 1, 4), (3, 2, 3), (4, 4, 5), (4, 6, 3)]
MARS_QUERY_ROWS = [3, 5]  # 1-based rows of MARS_TEST


def mars_name(pid: int, cam: int, tracklet: int, frame: int) -> str:
    """MARS frame name, e.g. `0001C1T0001F001.jpg`; junk pid -1 is written `00-1`."""
    prefix = "00-1" if pid == -1 else f"{pid:04d}"
    return f"{prefix}C{cam}T{tracklet:04d}F{frame:03d}.jpg"


def _mars_subset(root: Path, subset: str, tracks: list[tuple[int, int, int]], rng: random.Random
                 ) -> tuple[list[str], np.ndarray, list]:
    names, rows, jobs, counters = [], [], [], {}
    for pid, cam, n_frames in tracks:
        counters[(pid, cam)] = counters.get((pid, cam), 0) + 1
        chunk = [mars_name(pid, cam, counters[(pid, cam)], k) for k in range(1, n_frames + 1)]
        jobs += [(root / f"bbox_{subset}" / n[:4] / n, frame_colour(k + 1, pid, cam - 1))
                 for k, n in enumerate(chunk)]
        rng.shuffle(chunk)  # the reader must order frames by number, not by list position
        rows.append([len(names) + 1, len(names) + n_frames, pid, cam])
        names += chunk
    return names, np.array(rows, dtype=np.int32), jobs


def make_mars_tree(root: Path, train: list = MARS_TRAIN, test: list = MARS_TEST,
                   query_rows: list[int] = MARS_QUERY_ROWS, seed: int = 0) -> Path:
    """`root/bbox_{train,test}/PPPP/*.jpg` (256x128) plus `root/info/` name lists and .mat files.

    `train`/`test` list tracklets as (pid, cam 1..6, n_frames); `query_rows` are 1-based rows of
    the test tracks. Name lists are shuffled within each tracklet. Returns root.
    """
    rng = random.Random(seed)
    info = root / "info"
    info.mkdir(parents=True, exist_ok=True)
    jobs = []
    for subset, tracks in (("train", train), ("test", test)):
        names, rows, subset_jobs = _mars_subset(root, subset, tracks, rng)
        (info / f"{subset}_name.txt").write_text("\n".join(names) + "\n")
        scipy.io.savemat(str(info / f"tracks_{subset}_info.mat"), {f"track_{subset}_info": rows})
        jobs += subset_jobs
    query = np.array([query_rows], dtype=np.uint16)
    scipy.io.savemat(str(info / "query_IDX.mat"), {"query_IDX": query})
    _write_shuffled(jobs, (256, 128), seed)
    return root
