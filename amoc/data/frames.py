"""Frame files: numeric frame ordering and validated decoding to RGB uint8.

Frame order matters for temporal models and optical flow, so frames are always ordered by the
number parsed from the file name, never by directory listing order.
"""

from __future__ import annotations

import logging
import os
import re
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np

from amoc.errors import DatasetError

log = logging.getLogger(__name__)

FRAME_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp"})
_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")
# What a complete file ends with; decoders fill a cut-off JPEG with grey instead of failing.
_TRAILERS = {".png": (b"IEND\xaeB`\x82", 12), ".jpg": (b"\xff\xd9", 64), ".jpeg": (b"\xff\xd9", 64)}


def parse_frame_number(path: str | os.PathLike) -> int:
    """Return the frame number of a file: the last run of digits in its stem.

    Works for `cam1_person001_00012.png` (12), `0012.png` (12) and MARS `0001C1T0001F012.jpg` (12).
    """
    stem = Path(path).stem
    match = _LAST_NUMBER.search(stem)
    if match is None:
        raise DatasetError(f"{path}: no frame number in the file name; frames must end in digits")
    return int(match.group(1))


def list_frame_files(folder: Path) -> list[Path]:
    """Image files in `folder` (other files are ignored and logged), in no particular order."""
    images, others = [], []
    for entry in os.scandir(folder):
        if entry.is_file():
            suffix = Path(entry.name).suffix.lower()
            (images if suffix in FRAME_EXTENSIONS else others).append(Path(entry.path))
    if others:
        log.info("%s: ignoring %d non-image file(s), e.g. %s", folder, len(others), others[0].name)
    return images


def sort_frames(paths: list[Path]) -> tuple[list[Path], int]:
    """Order frames by frame number; return (sorted absolute paths, number of missing numbers).

    Gaps in the numbering are allowed (the caller logs them); duplicate numbers are an error
    because the temporal order would be ambiguous.
    """
    numbered = sorted((parse_frame_number(p), os.path.abspath(p)) for p in paths)
    numbers = [n for n, _ in numbered]
    for a, b in pairwise(numbered):
        if a[0] == b[0]:
            raise DatasetError(
                f"duplicate frame number {a[0]}: {a[1]} and {b[1]}; remove one of the two files"
            )
    gaps = (numbers[-1] - numbers[0] + 1 - len(numbers)) if numbers else 0
    return [Path(p) for _, p in numbered], gaps


def read_frame(path: str | os.PathLike) -> np.ndarray:
    """Decode one frame to RGB uint8 (H, W, 3), refusing anything that is not a colour image.

    All supported datasets are colour, so a grey or 4-channel frame means a corrupted or foreign
    file and is reported, naming it, rather than silently converted.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: frame file is missing; re-extract the dataset")
    if path.stat().st_size == 0:
        raise DatasetError(f"{path}: frame file is empty (0 bytes); re-extract the dataset")
    data = np.fromfile(path, dtype=np.uint8)
    trailer, window = _TRAILERS.get(path.suffix.lower(), (b"", 0))
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None or trailer not in data[-window:].tobytes():
        raise DatasetError(f"{path}: cannot decode the image (truncated or corrupt); re-extract it")
    if image.ndim != 3 or image.shape[2] != 3:
        channels = 1 if image.ndim == 2 else image.shape[2]
        kind = {1: "greyscale", 2: "greyscale + alpha", 4: "colour + alpha"}.get(channels, "")
        raise DatasetError(
            f"{path}: expected a 3-channel colour frame, found {channels} channel(s)"
            f"{f' ({kind})' if kind else ''}; the dataset's frames are RGB, so this file is "
            "corrupted or foreign: re-extract the dataset archive, or convert the file to 3-channel "
            "8-bit RGB (e.g. cv2.cvtColor / PIL .convert('RGB')) or remove it")
    if image.dtype != np.uint8:
        raise DatasetError(
            f"{path}: expected 8-bit pixels, found {image.dtype}; the dataset's frames are 8-bit "
            "RGB, so this file is corrupted or foreign: re-extract the dataset archive, or convert "
            "the file to 8-bit RGB or remove it")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
