"""Motion-net pre-training: schedule, CLI, held-out EPE report, exact resumption."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from test_train_toy import build_toy

from amoc.atomic import move_checksummed
from amoc.train import pretrain_motion
from amoc.train.checkpoint import read_checkpoint
from amoc.train.pretrain_motion import main, pretrain_lr

CONFIG = {"iterations": 4, "batch_pairs": 2, "lr": 1e-3, "halve_after": 2, "halve_every": 1,
          "heldout_tracklets": 2, "checkpoint_every": 2}


def test_lr_is_halved_every_interval_after_the_first_phase() -> None:
    lrs = [pretrain_lr(i, 1e-4, 20000, 10000) for i in (0, 19999, 20000, 29999, 30000, 40000)]
    assert lrs == [1e-4, 1e-4, 5e-5, 5e-5, 2.5e-5, 1.25e-5]


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_toy(tmp_path_factory.mktemp("toy"), n_ids=4, lengths=(4, 6))


def _pretrain(toy: dict, out: Path, width: float = 0.125, extra: tuple = (), **cfg) -> None:
    argv = ["--cache", str(toy["cache"]), "--flow-store", str(toy["flow"]), "--width", str(width),
            "--colour", "rgb", "--pretrain-config", json.dumps({**CONFIG, **cfg}), "--split", str(toy["split"]),
            "--out", str(out), *extra]
    assert main(argv) == 0


def test_pretrain_writes_motion_checkpoint_and_epe(toy: dict, tmp_path: Path) -> None:
    out, log_json = tmp_path / "motion.pt", tmp_path / "motion.json"
    _pretrain(toy, out, extra=("--log-json", str(log_json)))
    payload = read_checkpoint(out, "motion-net")
    assert payload["model_config"] == {"width": 0.125, "colour": "rgb"} and payload["iteration"] == 4
    assert payload["zero_flow_epe"] == pytest.approx(2.0, rel=0.2)  # toy flow is u = 2 px
    assert payload["heldout_epe"] >= 0 and "predict_flow3.weight" in payload["model_state"]
    metrics = json.loads(log_json.read_text())
    # CURVE_POINTS (10) curve points over a run, so one per iteration of this 4-iteration run.
    assert metrics["heldout_pairs"] > 0 and len(metrics["history"]) == 4
    assert all(point["heldout_epe"] >= 0 for point in metrics["history"])


def test_pretrain_resume_is_bit_identical(toy: dict, tmp_path: Path) -> None:
    _pretrain(toy, tmp_path / "full.pt")
    _pretrain(toy, tmp_path / "half.pt", iterations=2)
    move_checksummed(tmp_path / "half.pt", tmp_path / "resumed.pt.partial")
    _pretrain(toy, tmp_path / "resumed.pt")
    a = read_checkpoint(tmp_path / "full.pt", "motion-net")["model_state"]
    b = read_checkpoint(tmp_path / "resumed.pt", "motion-net")["model_state"]
    assert all(torch.equal(a[k], b[k]) for k in a)


class Killed(Exception):
    """Stands in for the job being killed mid-run."""


def test_pretrain_resumes_from_the_partial_it_wrote_mid_run(
        toy: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """Killed after its iteration-2 checkpoint, the run leaves that partial (and no model); the
    rerun resumes from it and ends bit-identical to an uninterrupted run."""
    _pretrain(toy, tmp_path / "full.pt")
    real_step = pretrain_motion.Pretrain.step

    def dying_step(self, *args, **kw):
        if self.iteration == 3:  # iterations 1..3 done, partial written after iteration 2
            raise Killed
        return real_step(self, *args, **kw)

    monkeypatch.setattr(pretrain_motion.Pretrain, "step", dying_step)
    with pytest.raises(Killed):
        _pretrain(toy, tmp_path / "k.pt")
    partial = tmp_path / "k.pt.partial"
    assert not (tmp_path / "k.pt").exists()
    assert read_checkpoint(partial, "motion-net")["iteration"] == 2
    monkeypatch.setattr(pretrain_motion.Pretrain, "step", real_step)
    with caplog.at_level("INFO", logger="amoc.train.pretrain_motion"):
        _pretrain(toy, tmp_path / "k.pt")
    assert f"resumed {partial} at iteration 2" in caplog.text
    assert not partial.exists()
    a = read_checkpoint(tmp_path / "full.pt", "motion-net")
    b = read_checkpoint(tmp_path / "k.pt", "motion-net")
    assert a["iteration"] == b["iteration"] == 4
    assert a["model_state"].keys() == b["model_state"].keys()
    assert all(torch.equal(a["model_state"][k], b["model_state"][k]) for k in a["model_state"])
    assert [h["loss"] for h in a["history"]] == [h["loss"] for h in b["history"]]


def test_pretrain_partial_of_another_width_is_set_aside(toy: dict, tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    _pretrain(toy, tmp_path / "half.pt", iterations=2)
    move_checksummed(tmp_path / "half.pt", tmp_path / "m.pt.partial")
    with caplog.at_level("WARNING", logger="amoc.train.checkpoint"):
        _pretrain(toy, tmp_path / "m.pt", width=0.25)
    assert "width: checkpoint 0.125 != requested 0.25" in caplog.text
    assert [p.name.split("-")[0] for p in tmp_path.glob("m.pt.partial.stale-*")] == [
        "m.pt.partial.stale", "m.pt.partial.stale"]  # the partial and its checksum
    assert read_checkpoint(tmp_path / "m.pt", "motion-net")["model_config"]["width"] == 0.25
