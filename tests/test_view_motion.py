"""The view-motion benchmark: synthwalk's pan and wobble stay calibrated on real crops."""

from __future__ import annotations

from pathlib import Path

import pytest

from amoc.bench.view_motion import main, motion_stats, sequence_frames, synthwalk_frames


def test_synthwalk_view_motion_is_within_the_range_of_real_crops(shared_data: Path) -> None:
    """The per-pair view motion of synthwalk lies between half and twice that of the real minis
    (iLIDS-VID and PRID-2011 frames), measured with the same flow method on both sides."""
    real = [motion_stats(name, sequence_frames(name, shared_data / "real-mini", 40), "dis")
            for name in ("ilidsvid", "prid2011")]
    synth = motion_stats("synthwalk", synthwalk_frames(8, 32, seed=0), "dis")
    real_view = sum(r["view mean"] * r["pairs"] for r in real) / sum(r["pairs"] for r in real)
    assert 0.5 * real_view < synth["view mean"] < 2.0 * real_view, (real_view, synth)
    # and it is the view, not the body, that dominates synthwalk's flow, as in the real crops
    assert synth["view median"] > synth["body mean"]


def test_the_table_is_printed_and_written(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "view.md"
    assert main(["--synthwalk-ids", "2", "--max-frames", "8", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| synthwalk (2 ids, seed 0) | 4 |" in printed
    assert out.read_text() in printed


def test_a_malformed_real_argument_is_refused(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["--real", "../shared/data/real-mini"])
    assert "expected DATASET=ROOT" in capsys.readouterr().err
