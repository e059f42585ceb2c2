"""synthwalk generator: layout, determinism, twins, camera differences, argument checks."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from amoc.cli import run_command
from amoc.data.ilidsvid import read_ilidsvid
from amoc.data.synthwalk import generate as synthwalk
from amoc.data.synthwalk.__main__ import main as cli_main
from amoc.data.synthwalk.generate import MANIFEST, generate_synthwalk, truth_path
from amoc.data.synthwalk.identity import build_identities
from amoc.errors import ConfigError, DatasetError

SMALL = {"n_ids": 8, "min_len": 36, "max_len": 44, "seed": 11, "twin_fraction": 0.5}
FRAME_RE = re.compile(r"cam([12])_person(\d{3})_(\d{5})\.png")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A small generated dataset and its manifest."""
    out = tmp_path_factory.mktemp("synthwalk")
    return out, generate_synthwalk(out, **SMALL)


def _frames(out: Path, cam: int, pid: int) -> np.ndarray:
    """(T, 128, 64, 3) RGB float frames of one sequence, read back from disk."""
    paths = sorted((out / f"i-LIDS-VID/sequences/cam{cam}/person{pid:03d}").glob("*.png"))
    return np.stack([cv2.imread(str(p))[..., ::-1] for p in paths]).astype(np.float32)


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_layout_and_naming(dataset: tuple[Path, dict]) -> None:
    out, manifest = dataset
    assert json.loads((out / MANIFEST).read_text()) == manifest
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []
    for identity in manifest["identities"]:
        for cam in (1, 2):
            folder = out / f"i-LIDS-VID/sequences/cam{cam}/person{identity['pid']:03d}"
            names = sorted(p.name for p in folder.iterdir())
            n = identity["sequences"][f"cam{cam}"]["n_frames"]
            assert names == [f"cam{cam}_person{identity['pid']:03d}_{i:05d}.png"
                             for i in range(1, n + 1)]
            assert all(FRAME_RE.fullmatch(name) for name in names)
            assert SMALL["min_len"] <= n <= SMALL["max_len"]


def test_frames_are_rgb_128x64(dataset: tuple[Path, dict]) -> None:
    out, _ = dataset
    frame = cv2.imread(str(out / "i-LIDS-VID/sequences/cam2/person001/cam2_person001_00001.png"),
                       cv2.IMREAD_UNCHANGED)
    assert frame.shape == (128, 64, 3) and frame.dtype == np.uint8


def test_ilidsvid_reader_indexes_it(dataset: tuple[Path, dict]) -> None:
    out, manifest = dataset
    index = read_ilidsvid(out, dataset="synthwalk")
    assert len(index) == 2 * SMALL["n_ids"]
    assert sorted(set(index["camid"])) == [0, 1]
    assert int(index["n_frames"].sum()) == manifest["n_frames"]


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    args = {"n_ids": 4, "min_len": 3, "max_len": 5, "twin_fraction": 0.5}
    generate_synthwalk(tmp_path / "a", seed=5, **args)
    generate_synthwalk(tmp_path / "b", seed=5, threads=2, **args)  # two render processes
    generate_synthwalk(tmp_path / "c", seed=6, **args)
    a, b, c = (_files(tmp_path / name) for name in "abc")
    assert a == b
    pngs = [k for k in a if k.endswith(".png")]
    assert a.keys() != c.keys() or any(a[k] != c[k] for k in pngs)


def test_more_identities_leave_earlier_ones_unchanged(tmp_path: Path) -> None:
    args = {"min_len": 3, "max_len": 4, "seed": 2, "twin_fraction": 0.5}
    generate_synthwalk(tmp_path / "a", n_ids=4, **args)
    generate_synthwalk(tmp_path / "b", n_ids=6, **args)
    a = {k: v for k, v in _files(tmp_path / "a").items() if k.startswith("i-LIDS-VID/sequences")}
    b = _files(tmp_path / "b")
    assert a and all(b[k] == v for k, v in a.items())


def test_twins_share_appearance_but_not_gait() -> None:
    identities = {i.pid: i for i in build_identities(40, seed=0, twin_fraction=0.5)}
    twins = [(i, identities[i.twin_of]) for i in identities.values() if i.twin_of]
    assert len(twins) == 20  # 10 pairs, each seen from both sides
    for a, b in twins:
        assert a.appearance == b.appearance
        slow, fast = sorted((a.gait, b.gait), key=lambda g: g.freq)
        assert fast.freq > 1.5 * slow.freq
        assert fast.arm_swing - slow.arm_swing > 0.2
    others = [i.appearance for i in identities.values() if not i.twin_of]
    assert len(set(others)) == len(others)


def _leg_speed(out: Path, cam: int, pid: int) -> float:
    """Mean true flow magnitude (64x32 grid px/frame) in the lower-leg rows of one sequence,
    relative to the view's motion (each frame's median flow: the pan and the tracker's wobble)."""
    flow = np.load(truth_path(out / "i-LIDS-VID", cam - 1, pid)).astype(np.float32)[:-1]
    view = np.median(flow.reshape(len(flow), -1, 2), axis=1)[:, None, None]
    return float(np.linalg.norm(flow[:, 44:62] - view, axis=-1).mean())


def _torso_colour(frames: np.ndarray) -> np.ndarray:
    """Median over frames of the mean RGB in a box inside the torso."""
    return np.median(frames[:, 44:66, 29:36].mean(axis=(1, 2)), axis=0)


def test_twins_look_alike_but_move_differently(dataset: tuple[Path, dict]) -> None:
    out, manifest = dataset
    gaits = {i["pid"]: i["gait"]["freq"] for i in manifest["identities"]}
    assert manifest["twin_pairs"] == [[3, 4], [7, 8]]
    pids = [i["pid"] for i in manifest["identities"]]
    leg_ratio = []  # fast twin's leg speed over the slow twin's, per pair and camera
    for cam in (1, 2):
        colour = {pid: _torso_colour(_frames(out, cam, pid)) for pid in pids}
        twin_gap, other_gap = [], []
        for a in pids:
            for b in pids[a:]:
                gap = float(np.abs(colour[a] - colour[b]).max())
                (twin_gap if [a, b] in manifest["twin_pairs"] else other_gap).append(gap)
        assert max(twin_gap) < 25 and np.mean(twin_gap) < 0.5 * np.mean(other_gap)
        for a, b in manifest["twin_pairs"]:
            slow, fast = sorted((a, b), key=gaits.get)
            leg_ratio.append(_leg_speed(out, cam, fast) / _leg_speed(out, cam, slow))
    # every fast twin moves its legs faster; by 1.3x on average (leg swing is drawn per identity)
    assert min(leg_ratio) > 1.0 and np.mean(leg_ratio) > 1.3, leg_ratio


def test_cameras_differ_in_colour(dataset: tuple[Path, dict]) -> None:
    out, manifest = dataset
    for identity in manifest["identities"]:
        red_minus_blue = [float(np.mean(f[..., 0] - f[..., 2]))
                          for f in (_frames(out, cam, identity["pid"]) for cam in (1, 2))]
        assert red_minus_blue[0] - red_minus_blue[1] > 20


def test_interrupted_run_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(synthwalk, "_write_sequence", crash)
    with pytest.raises(KeyboardInterrupt):
        generate_synthwalk(tmp_path, n_ids=2, min_len=2, max_len=2)
    assert list(tmp_path.iterdir()) == []


def test_rerun_replaces_own_output_but_not_foreign_data(tmp_path: Path) -> None:
    generate_synthwalk(tmp_path / "out", n_ids=3, min_len=2, max_len=3)
    generate_synthwalk(tmp_path / "out", n_ids=2, min_len=2, max_len=3)
    assert len(list((tmp_path / "out/i-LIDS-VID/sequences/cam1").iterdir())) == 2
    (tmp_path / "real/i-LIDS-VID/sequences").mkdir(parents=True)
    with pytest.raises(DatasetError, match="not written by synthwalk"):
        generate_synthwalk(tmp_path / "real", n_ids=2, min_len=2, max_len=3)
    assert (tmp_path / "real/i-LIDS-VID/sequences").is_dir()


@pytest.mark.parametrize(("argv", "name"), [
    (["--n-ids", "1"], "n_ids"),
    (["--min-len", "1"], "min_len"),
    (["--min-len", "10", "--max-len", "9"], "max_len"),
    (["--twin-fraction", "1.5"], "twin_fraction"),
    (["--twin-fraction", "-0.1"], "twin_fraction"),
    (["--seed", "-1"], "seed"),
])
def test_bad_arguments_raise_config_error(tmp_path: Path, argv: list[str], name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        cli_main(["--out", str(tmp_path), *argv])
    assert run_command(cli_main, ["--out", str(tmp_path), *argv]) == 2
    assert list(tmp_path.iterdir()) == []
