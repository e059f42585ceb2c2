"""Real frames (the shared minis) flow through the readers and the frame cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from amoc.data.cache import FrameCache, build_cache
from amoc.data.frames import parse_frame_number
from amoc.data.readers import read_dataset


@pytest.mark.parametrize("name", ["ilidsvid", "prid2011"])
def test_real_mini_through_reader_and_cache(tmp_path: Path, shared_data: Path, name: str) -> None:
    index = read_dataset(name, shared_data / "real-mini")
    assert len(index) == 6 and index["pid"].nunique() == 3
    assert (index["n_frames"] == 20).all()
    for paths in index["frame_paths"]:
        assert [parse_frame_number(p) for p in paths] == list(range(1, 21))
    cache = FrameCache(build_cache(index, tmp_path / "cache", threads=2))
    assert cache.frames.shape == (120, 128, 64, 3)
    seq = np.asarray(cache.sequence(5), dtype=np.float32)
    assert seq.std() > 10  # real, textured frames, not blank
    assert np.abs(np.diff(seq, axis=0)).mean() < np.abs(seq - seq[::-1]).mean()
