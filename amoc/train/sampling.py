"""Online Siamese pair selection (Sec. III-A, IV-B; baseline protocol where the paper is silent).

Every epoch, each training identity (in a fresh random order) contributes one positive pair (two
of its sequences from two different cameras) followed by one negative pair (one of its sequences
against a sequence of a random other identity from another camera), so the pair list alternates
positive/negative as in the baseline (epoch = 2N pairs). Camera order is random. Every sequence
of every pair also gets its own random 16-frame window and augmentation draw (once per epoch).
With ``pairs`` set (``train.pairs_per_epoch``), an epoch is that many pairs instead: identities
are taken from successive random permutations until there are enough, so epochs cost the same on
every dataset (see amoc.config.TrainConfig on the paper's MARS vs iLIDS-VID epochs).

All randomness comes from one seeded ``numpy.random.Generator`` whose state is checkpointed, so a
resumed run draws exactly the same pairs. Identities are relabelled 0..K-1 from
``sorted(set(train_pids))`` for the identity loss.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from amoc.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainSet:
    """The usable training tracklets, as parallel arrays over S sequences.

    Attributes:
        offsets, n_frames, cams, labels: (S,) first cache row, length, camera, 0-based identity.
        num_classes: K = number of distinct training pids (the softmax size).
        groups: per eligible identity, its sequence positions split by camera.
        skipped: number of sequences left out for being shorter than the clip length.
    """

    offsets: np.ndarray
    n_frames: np.ndarray
    cams: np.ndarray
    labels: np.ndarray
    num_classes: int
    groups: tuple[tuple[np.ndarray, ...], ...]
    skipped: int


@dataclass(frozen=True)
class EpochPlan:
    """One epoch of pairs: P = 2 x eligible identities, in training order.

    Shape: seqs (P, 2) positions into TrainSet; same (P,) bool; starts (P, 2) first frame of the
    window; shifts (P, 2, 2) (dy, dx) translation in pixels; flips (P, 2) bool.
    """

    seqs: np.ndarray
    same: np.ndarray
    starts: np.ndarray
    shifts: np.ndarray
    flips: np.ndarray

    def __len__(self) -> int:
        return len(self.same)


def relabel(pids: list[int] | np.ndarray) -> dict[int, int]:
    """Map each distinct pid to 0..K-1 in sorted order (never set-iteration order)."""
    return {int(pid): i for i, pid in enumerate(sorted({int(p) for p in pids}))}


def build_train_set(index: pd.DataFrame, train_pids: list[int], seq_len: int,
                    short_seqs: str = "skip") -> TrainSet:
    """Select the training tracklets and group them by identity and camera.

    Args:
        index: cached tracklet index (pid, camid, n_frames, offset).
        train_pids: the split's training persons.
        seq_len: frames per training clip; shorter sequences are skipped ("skip", baseline) or
            padded by repeating their last frame ("pad").
        short_seqs: "skip" or "pad".

    Returns:
        The TrainSet; identities left with fewer than two cameras take part in no pair (logged).
    """
    labels_of = relabel(train_pids)
    rows = index[index["pid"].isin(list(labels_of))].sort_values(["pid", "camid", "tracklet"])
    short = rows["n_frames"].to_numpy() < (seq_len if short_seqs == "skip" else 1)
    if short.any():
        log.warning("skipping %d of %d training sequences shorter than %d frames",
                    int(short.sum()), len(rows), seq_len)
    rows = rows[~short]
    labels = rows["pid"].map(labels_of).to_numpy(np.int64)
    cams = rows["camid"].to_numpy(np.int64)
    groups = []
    for label in range(len(labels_of)):
        mine = np.flatnonzero(labels == label)
        by_cam = tuple(mine[cams[mine] == c] for c in np.unique(cams[mine]))
        if len(by_cam) >= 2:
            groups.append(by_cam)
    if len(groups) < 2:
        raise ConfigError(f"only {len(groups)} training identities have usable sequences in two "
                          f"cameras (seq_len={seq_len}); need at least 2: check the split")
    if len(groups) < len(labels_of):
        log.warning("%d of %d training identities lack two usable cameras and are not paired",
                    len(labels_of) - len(groups), len(labels_of))
    return TrainSet(offsets=rows["offset"].to_numpy(np.int64),
                    n_frames=rows["n_frames"].to_numpy(np.int64), cams=cams, labels=labels,
                    num_classes=len(labels_of), groups=tuple(groups), skipped=int(short.sum()))


def _pick(rng: np.random.Generator, positions: np.ndarray) -> int:
    return int(positions[rng.integers(len(positions))])


def _pairs_for(rng: np.random.Generator, train: TrainSet, k: int) -> list[tuple[int, int]]:
    """Positive then negative pair for eligible identity k (positions into the TrainSet)."""
    mine = train.groups[k]
    cam_a, cam_b = rng.permutation(len(mine))[:2]
    positive = (_pick(rng, mine[cam_a]), _pick(rng, mine[cam_b]))
    other = int(rng.integers(len(train.groups) - 1))
    other += other >= k  # uniform over the other identities
    anchor = _pick(rng, mine[cam_a])
    # the other identity has >= 2 cameras, so one differs from the anchor's
    theirs = [g for g in train.groups[other] if train.cams[g[0]] != train.cams[anchor]]
    negative = (anchor, _pick(rng, theirs[int(rng.integers(len(theirs)))]))
    return [positive, negative]


def sample_epoch(train: TrainSet, rng: np.random.Generator, seq_len: int,
                 translate: float = 0.05, flip: bool = True,
                 frame_hw: tuple[int, int] = (128, 64), pairs: int | None = None) -> EpochPlan:
    """Draw one epoch of alternating positive/negative pairs with windows and augmentation.

    Args:
        train: from ``build_train_set``.
        rng: the run's generator (advanced in place).
        seq_len: clip length T (a shorter, padded sequence starts at 0).
        translate: largest translation as a fraction of h and w (integer pixels drawn uniformly).
        flip: draw a horizontal flip with p = 0.5 per sequence.
        frame_hw: (H, W) of the cached frames.
        pairs: pairs in the epoch; None = 2 x the eligible identities.

    Returns:
        The EpochPlan.
    """
    n = len(train.groups)
    if pairs is None:
        order = rng.permutation(n)
    else:
        rounds = -(-pairs // (2 * n))  # ceil: permutations needed for pairs / 2 identities
        order = np.concatenate([rng.permutation(n) for _ in range(rounds)])[: -(-pairs // 2)]
    drawn = [pair for k in order for pair in _pairs_for(rng, train, int(k))]
    seqs = np.asarray(drawn, dtype=np.int64).reshape(-1, 2)[:pairs]
    same = np.zeros(len(seqs), dtype=bool)
    same[0::2] = True
    spare = np.maximum(train.n_frames[seqs] - seq_len, 0)  # (P, 2)
    starts = rng.integers(0, spare + 1)
    max_dy, max_dx = (round(translate * s) for s in frame_hw)
    shifts = np.stack([rng.integers(-max_dy, max_dy + 1, size=seqs.shape),
                       rng.integers(-max_dx, max_dx + 1, size=seqs.shape)], axis=-1)
    flips = rng.random(seqs.shape) < 0.5 if flip else np.zeros(seqs.shape, dtype=bool)
    return EpochPlan(seqs=seqs, same=same, starts=starts, shifts=shifts, flips=flips)
