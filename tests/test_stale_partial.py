"""Partials are keyed by their config: a stale one is set aside with a warning, never resumed;
and the finished state survives a failure while writing the job's last output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_train_toy import build_toy

from amoc.atomic import write_json_atomic
from amoc.train import pretrain_motion
from amoc.train.checkpoint import read_checkpoint
from amoc.train.pretrain_motion import main
from tests.faults import fill_disk_at_the_curves, no_training

CONFIG = {"iterations": 4, "batch_pairs": 2, "lr": 1e-3, "halve_after": 2, "halve_every": 1,
          "heldout_tracklets": 2, "checkpoint_every": 2}


class Killed(Exception):
    """Stands in for the job being killed mid-run."""


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_toy(tmp_path_factory.mktemp("toy"), n_ids=4, lengths=(4, 6))


def _pretrain(toy: dict, out: Path, **cfg) -> None:
    argv = ["--cache", str(toy["cache"]), "--flow-store", str(toy["flow"]), "--width", "0.125",
            "--colour", "rgb", "--pretrain-config", json.dumps({**CONFIG, **cfg}),
            "--split", str(toy["split"]), "--out", str(out),
            "--log-json", str(out.with_suffix(".json"))]
    assert main(argv) == 0


def _killed_at_iteration_3(toy: dict, out: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run until the iteration-2 partial exists, then die; return the partial."""
    real_step = pretrain_motion.Pretrain.step

    def dying_step(self, *args, **kw):
        if self.iteration == 3:
            raise Killed
        return real_step(self, *args, **kw)

    with monkeypatch.context() as patch:
        patch.setattr(pretrain_motion.Pretrain, "step", dying_step)
        with pytest.raises(Killed):
            _pretrain(toy, out)
    partial = out.with_name(out.name + ".partial")
    assert read_checkpoint(partial, "motion-net")["iteration"] == 2 and not out.exists()
    return partial


@pytest.mark.parametrize(("change", "why"), [
    ({"iterations": 1}, "at iteration 2, past pretrain.iterations = 1"),
    ({"lr": 5e-4}, "lr: checkpoint 0.001 != requested 0.0005"),
])
def test_pretrain_partial_of_another_config_is_set_aside(
        toy: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture, change: dict, why: str) -> None:
    out = tmp_path / "motion.pt"
    partial = _killed_at_iteration_3(toy, out, monkeypatch)
    with caplog.at_level("WARNING", logger="amoc.train.checkpoint"):
        _pretrain(toy, out, **change)
    assert why in caplog.text and "set aside" in caplog.text
    aside = sorted(p.name for p in tmp_path.glob("motion.pt.partial.stale-*"))
    assert len(aside) == 2 and aside[1] == aside[0] + ".sha256"  # kept, with its checksum
    assert not partial.exists()
    payload = read_checkpoint(out, "motion-net")  # a fresh run under the new config
    assert payload["pretrain_config"] == {**payload["pretrain_config"], **change}
    assert payload["iteration"] == change.get("iterations", CONFIG["iterations"])
    assert payload["history"][0]["iteration"] == 1


def test_raised_iterations_still_resume(toy: dict, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch,
                                        caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "motion.pt"
    partial = _killed_at_iteration_3(toy, out, monkeypatch)
    with caplog.at_level("INFO", logger="amoc.train.pretrain_motion"):
        _pretrain(toy, out, iterations=6)
    assert f"resumed {partial} at iteration 2" in caplog.text
    assert read_checkpoint(out, "motion-net")["iteration"] == 6


def test_full_disk_at_the_last_write_keeps_the_finished_net(
        toy: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """The curves JSON is the job's last output: a full disk there leaves the finished state as
    the partial (no model without its curves), and the rerun finishes without training."""
    out = tmp_path / "motion.pt"
    partial = fill_disk_at_the_curves(monkeypatch, pretrain_motion, lambda: _pretrain(toy, out),
                                      out)
    assert not out.exists() and read_checkpoint(partial, "motion-net")["iteration"] == 4

    monkeypatch.setattr(pretrain_motion.Pretrain, "step", no_training)
    monkeypatch.setattr(pretrain_motion, "write_json_atomic", write_json_atomic)
    with caplog.at_level("INFO", logger="amoc.train.pretrain_motion"):
        _pretrain(toy, out)
    assert f"resumed {partial} at iteration 4" in caplog.text
    assert read_checkpoint(out, "motion-net")["iteration"] == 4 and not partial.exists()
    assert json.loads(out.with_suffix(".json").read_text())["history"][-1]["iteration"] == 4

