"""synthwalk: the built-in synthetic video re-id dataset, written in the iLIDS-VID layout.

Walking articulated figures seen by two cameras; half the identities (by default) come in twin
pairs that share clothes and body but walk differently, so appearance alone cannot separate them
and the motion cue that AMOC adds is measurably useful. Everything is drawn from numpy generators
keyed by (seed, stream, pid[, camera]), so output is byte-identical for a seed and adding
identities leaves earlier ones unchanged.

Output under `out/`: `i-LIDS-VID/sequences/cam{1,2}/personNNN/cam{c}_personNNN_XXXXX.png`, the
exact optical flow of every sequence in `i-LIDS-VID/flow/cam{1,2}/personNNN.npy` (float16
(n_frames, 64, 32, 2), the flow store's units; see `amoc.data.synthwalk.truth`) and the manifest
`synthwalk.json`, written last: a folder without the manifest is incomplete.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from amoc.atomic import write_json_atomic
from amoc.data.synthwalk.identity import Identity, build_identities
from amoc.data.synthwalk.render import (
    HEIGHT,
    WIDTH,
    CameraStyle,
    SequenceParams,
    render_sequence,
    sample_camera,
    sample_sequence,
)
from amoc.errors import ConfigError, DatasetError

log = logging.getLogger(__name__)

FOLDER = "i-LIDS-VID"
MANIFEST = "synthwalk.json"
MARKER = ".synthwalk"  # inside FOLDER: lets a rerun replace its own output and nothing else
CAMERAS = ("cam1", "cam2")
TRUTH_DIR = "flow"  # inside FOLDER, next to sequences/
VERSION = 2  # 2: ground-truth flow


def validate_params(n_ids: int, min_len: int, max_len: int, seed: int,
                    twin_fraction: float) -> None:
    """Raise ConfigError naming the first argument that is out of range."""
    if n_ids < 2:
        raise ConfigError(f"n_ids (--n-ids) must be >= 2, got {n_ids}")
    if min_len < 2:
        raise ConfigError(f"min_len (--min-len) must be >= 2 (one frame pair), got {min_len}")
    if max_len < min_len:
        raise ConfigError(f"max_len (--max-len) must be >= min_len ({min_len}), got {max_len}")
    if seed < 0:
        raise ConfigError(f"seed (--seed) must be a non-negative integer, got {seed}")
    if not 0.0 <= twin_fraction <= 1.0:
        raise ConfigError(f"twin_fraction (--twin-fraction) must be in [0, 1], got {twin_fraction}")


def frame_path(sequences: Path, cam: int, pid: int, frame: int) -> Path:
    """Where frame `frame` (1-based) of person `pid` in camera `cam` (0-based) goes."""
    person = f"person{pid:03d}"
    return sequences / CAMERAS[cam] / person / f"{CAMERAS[cam]}_{person}_{frame:05d}.png"


def _write_sequence(sequences: Path, cam: int, pid: int, frames: np.ndarray) -> None:
    """Write RGB frames (T, H, W, 3) as numbered PNGs."""
    frame_path(sequences, cam, pid, 1).parent.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames, start=1):
        path = frame_path(sequences, cam, pid, i)
        if not cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)):
            raise DatasetError(f"could not write {path}; check free space and permissions")


def truth_path(root: Path, cam: int, pid: int) -> Path:
    """Where the ground-truth flow of person `pid` in camera `cam` (0-based) goes, under FOLDER."""
    return root / TRUTH_DIR / CAMERAS[cam] / f"person{pid:03d}.npy"


def _render_identity(identity: Identity, cameras: list[CameraStyle], seed: int, min_len: int,
                     max_len: int, root: Path) -> list[SequenceParams]:
    """Render and write both cameras' sequences of one identity and their exact flow."""
    params = []
    for cam, style in enumerate(cameras):
        rng = np.random.default_rng([seed, 3, identity.pid, cam])
        seq = sample_sequence(rng, min_len, max_len)
        frames, flow = render_sequence(identity, style, seq, rng)
        _write_sequence(root / "sequences", cam, identity.pid, frames)
        target = truth_path(root, cam, identity.pid)
        target.parent.mkdir(parents=True, exist_ok=True)
        np.save(target, flow.astype(np.float16))
        params.append(seq)
    return params


def _manifest(params: dict, cameras: list[CameraStyle], identities: list[Identity],
              sequences: list[list[SequenceParams]]) -> dict:
    """The JSON record of everything that was generated."""
    people = []
    for identity, seqs in zip(identities, sequences, strict=True):
        entry = dataclasses.asdict(identity)
        entry["sequences"] = {CAMERAS[c]: dataclasses.asdict(s) for c, s in enumerate(seqs)}
        people.append(entry)
    pairs = sorted({tuple(sorted((i.pid, i.twin_of))) for i in identities if i.twin_of})
    return {"generator": "synthwalk", "version": VERSION, "params": params,
            "frame_size": [HEIGHT, WIDTH], "layout": f"{FOLDER}/sequences/cam{{1,2}}/personNNN",
            "ground_truth_flow": f"{FOLDER}/{TRUTH_DIR}/cam{{1,2}}/personNNN.npy",
            "cameras": {CAMERAS[c]: dataclasses.asdict(s) for c, s in enumerate(cameras)},
            "twin_pairs": [list(p) for p in pairs], "identities": people,
            "n_frames": sum(s.n_frames for seqs in sequences for s in seqs)}


def _check_target(out: Path) -> None:
    """Refuse to overwrite an i-LIDS-VID folder that an earlier synthwalk run did not write."""
    target = out / FOLDER
    if target.exists() and not (target / MARKER).is_file():
        raise DatasetError(f"{target} exists and was not written by synthwalk; "
                           "choose another --out or move that folder away")


def _install(staged: Path, out: Path) -> None:
    """Move the staged dataset folder to `out/FOLDER`, replacing an earlier synthwalk one."""
    _check_target(out)
    (out / MANIFEST).unlink(missing_ok=True)
    target = out / FOLDER
    if target.exists():
        os.replace(target, staged.parent / "old")  # deleted with the temporary folder
    os.replace(staged, target)


def _render_all(identities: list[Identity], cameras: list[CameraStyle], seed: int,
                min_len: int, max_len: int, root: Path,
                threads: int) -> list[list[SequenceParams]]:
    """Render every identity, in `threads` processes (each identity has its own generator, so
    the bytes do not depend on how many)."""
    render = partial(_render_identity, cameras=cameras, seed=seed, min_len=min_len,
                     max_len=max_len, root=root)
    if threads <= 1:
        return [render(i) for i in identities]
    with ProcessPoolExecutor(threads) as pool:
        return list(pool.map(render, identities, chunksize=8))


def generate_synthwalk(out: str | os.PathLike, n_ids: int = 40, min_len: int = 24,
                       max_len: int = 48, seed: int = 0, twin_fraction: float = 0.5,
                       threads: int = 1) -> dict:
    """Generate the dataset under `out`; return the manifest as saved in out/synthwalk.json.

    Frames are rendered into a hidden temporary folder inside `out` and moved into place at the
    end; the manifest is written last, so an interrupted run leaves nothing that looks complete.
    """
    validate_params(n_ids, min_len, max_len, seed, twin_fraction)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _check_target(out)
    start = time.perf_counter()
    identities = build_identities(n_ids, seed, twin_fraction)
    cameras = [sample_camera(np.random.default_rng([seed, 0, c]), c) for c in range(len(CAMERAS))]
    tmp = Path(tempfile.mkdtemp(prefix=".synthwalk-", dir=out))
    try:
        staged = tmp / FOLDER
        (staged / "sequences").mkdir(parents=True)
        (staged / MARKER).write_text(f"seed {seed}\n")
        sequences = _render_all(identities, cameras, seed, min_len, max_len, staged, threads)
        params = {"n_ids": n_ids, "min_len": min_len, "max_len": max_len, "seed": seed,
                  "twin_fraction": twin_fraction}
        manifest = _manifest(params, cameras, identities, sequences)
        _install(staged, out)
        write_json_atomic(out / MANIFEST, manifest)
        manifest = json.loads((out / MANIFEST).read_text())  # JSON types, exactly as saved
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("synthwalk: %d identities, %d twin pairs, %d frames in %.1f s -> %s", n_ids,
             len(manifest["twin_pairs"]), manifest["n_frames"], time.perf_counter() - start, out)
    return manifest
