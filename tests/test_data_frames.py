"""Frame decoding and numeric ordering (amoc.data.frames)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from data_fixtures import write_frame

from amoc.data.frames import parse_frame_number, read_frame, sort_frames
from amoc.errors import DatasetError


@pytest.mark.parametrize("name, number", [
    ("cam1_person001_00012.png", 12), ("0007.png", 7), ("0001C1T0002F013.jpg", 13), ("9.png", 9),
])
def test_parse_frame_number(name: str, number: int) -> None:
    assert parse_frame_number(name) == number


def test_parse_frame_number_without_digits() -> None:
    with pytest.raises(DatasetError, match="no frame number"):
        parse_frame_number("frame.png")


def test_sort_frames_is_numeric_and_counts_gaps(tmp_path: Path) -> None:
    paths = [tmp_path / f"{k}.png" for k in (10, 2, 1, 9)]
    ordered, gaps = sort_frames(paths)
    assert [p.name for p in ordered] == ["1.png", "2.png", "9.png", "10.png"]
    assert gaps == 6
    assert all(p.is_absolute() for p in ordered)


def test_sort_frames_rejects_duplicate_numbers(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="duplicate frame number 1"):
        sort_frames([tmp_path / "0001.png", tmp_path / "1.png"])


def test_read_frame_returns_rgb(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    write_frame(path, (200, 100, 50))
    image = read_frame(path)
    assert image.shape == (128, 64, 3) and image.dtype == np.uint8
    assert tuple(image[0, 0]) == (200, 100, 50)


def test_read_frame_missing_and_empty(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="missing"):
        read_frame(tmp_path / "none.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(DatasetError, match="empty"):
        read_frame(tmp_path / "empty.png")


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_read_frame_truncated(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"a{suffix}"
    rng = np.random.default_rng(0)
    cv2.imwrite(str(path), rng.integers(0, 255, (128, 64, 3), dtype=np.uint8))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match="truncated"):
        read_frame(path)


def test_read_frame_garbage(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(b"not an image at all")
    with pytest.raises(DatasetError, match=r"a\.png"):
        read_frame(path)


@pytest.mark.parametrize("shape, channels", [((128, 64), 1), ((128, 64, 4), 4)])
def test_read_frame_refuses_non_colour(tmp_path: Path, shape: tuple, channels: int) -> None:
    path = tmp_path / "g.png"
    cv2.imwrite(str(path), np.zeros(shape, np.uint8))
    with pytest.raises(DatasetError, match=f"found {channels} channel") as raised:
        read_frame(path)
    assert "frames are RGB" in str(raised.value) and "re-extract" in str(raised.value)
    assert "convert the file" in str(raised.value)


def test_read_frame_refuses_16_bit_saying_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), np.zeros((128, 64, 3), np.uint16))
    with pytest.raises(DatasetError, match="expected 8-bit pixels, found uint16") as raised:
        read_frame(path)
    assert "deep.png" in str(raised.value) and "re-extract" in str(raised.value)
