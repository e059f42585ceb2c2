"""Online pair selection: alternation, identities, cameras, windows, determinism, short sequences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from amoc.errors import ConfigError
from amoc.train.sampling import build_train_set, relabel, sample_epoch


def _index(n_ids: int = 5, n_frames: int = 20, extra: list[dict] | None = None) -> pd.DataFrame:
    rows = [{"pid": 10 * p, "camid": c, "tracklet": f"c{c}/p{p}", "n_frames": n_frames}
            for c in (0, 1) for p in range(1, n_ids + 1)] + (extra or [])
    index = pd.DataFrame(rows)
    index["offset"] = np.concatenate([[0], np.cumsum(index["n_frames"])[:-1]])
    return index


def test_relabel_is_sorted_not_set_order() -> None:
    assert relabel([30, 10, 20, 10]) == {10: 0, 20: 1, 30: 2}


def test_epoch_alternates_positive_and_negative_pairs() -> None:
    index = _index()
    train = build_train_set(index, [50, 10, 30, 20, 40], seq_len=16)
    plan = sample_epoch(train, np.random.default_rng(0), seq_len=16)
    assert len(plan) == 2 * 5
    assert plan.same.tolist() == [True, False] * 5
    labels, cams = train.labels[plan.seqs], train.cams[plan.seqs]  # (P, 2)
    assert (labels[0::2, 0] == labels[0::2, 1]).all()
    assert (labels[1::2, 0] != labels[1::2, 1]).all()
    assert (cams[:, 0] != cams[:, 1]).all()  # always across cameras
    assert sorted(labels[0::2, 0].tolist()) == [0, 1, 2, 3, 4]  # every identity once
    assert ((plan.starts >= 0) & (plan.starts <= 20 - 16)).all()
    assert (np.abs(plan.shifts[..., 0]) <= 6).all() and (np.abs(plan.shifts[..., 1]) <= 3).all()


def test_sampling_is_deterministic_per_seed() -> None:
    train = build_train_set(_index(n_ids=8, n_frames=40), list(range(10, 90, 10)), seq_len=16)
    a, b, c = (sample_epoch(train, np.random.default_rng(s), 16) for s in (1, 1, 2))
    for name in ("seqs", "starts", "shifts", "flips"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.seqs, c.seqs) or not np.array_equal(a.starts, c.starts)


def test_short_sequences_are_skipped_and_counted_or_padded() -> None:
    extra = [{"pid": 60, "camid": 0, "tracklet": "c0/p6", "n_frames": 5},
             {"pid": 60, "camid": 1, "tracklet": "c1/p6", "n_frames": 30}]
    index = _index(extra=extra)
    pids = [10, 20, 30, 40, 50, 60]
    skipped = build_train_set(index, pids, seq_len=16, short_seqs="skip")
    assert skipped.skipped == 1 and skipped.num_classes == 6 and len(skipped.groups) == 5
    padded = build_train_set(index, pids, seq_len=16, short_seqs="pad")
    assert padded.skipped == 0 and len(padded.groups) == 6
    plan = sample_epoch(padded, np.random.default_rng(0), 16)
    short = padded.n_frames[plan.seqs] < 16
    assert (plan.starts[short] == 0).all()


def test_too_few_identities_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="two cameras"):
        build_train_set(_index(n_frames=8), [10, 20], seq_len=16)


def test_mars_like_multi_camera_identities() -> None:
    rows = [{"pid": p, "camid": c, "tracklet": f"{p}-{c}-{k}", "n_frames": 20}
            for p in (1, 2, 3) for c in range(p + 1) for k in range(2)]
    index = pd.DataFrame(rows)
    index["offset"] = np.concatenate([[0], np.cumsum(index["n_frames"])[:-1]])
    train = build_train_set(index, [1, 2, 3], seq_len=16)
    for seed in range(5):
        plan = sample_epoch(train, np.random.default_rng(seed), 16)
        assert (train.cams[plan.seqs[:, 0]] != train.cams[plan.seqs[:, 1]]).all()


@pytest.mark.parametrize("pairs", [4, 7, 23])
def test_fixed_pairs_per_epoch_keeps_alternation_and_covers_identities(pairs: int) -> None:
    train = build_train_set(_index(), [10, 20, 30, 40, 50], seq_len=16)
    plan = sample_epoch(train, np.random.default_rng(0), 16, pairs=pairs)
    assert len(plan) == pairs and plan.starts.shape == plan.seqs.shape == (pairs, 2)
    assert plan.same.tolist() == ([True, False] * pairs)[:pairs]
    anchors = train.labels[plan.seqs[0::2, 0]].tolist()
    full_rounds = pairs // 10  # 5 identities = 10 pairs per round: each once per round
    for r in range(full_rounds):
        assert sorted(anchors[5 * r:5 * r + 5]) == [0, 1, 2, 3, 4]


# --- killing mutmut survivors: boundaries and distributions the tests above left open ----------


def test_two_identities_and_sequences_of_exactly_seq_len_are_enough() -> None:
    train = build_train_set(_index(n_ids=2, n_frames=16), [10, 20], seq_len=16)
    assert train.skipped == 0 and len(train.groups) == 2  # 16 frames is not "shorter than 16"
    plan = sample_epoch(train, np.random.default_rng(0), 16)
    assert len(plan) == 4 and (plan.starts == 0).all()
    labels = train.labels[plan.seqs]
    assert (labels[1::2, 0] != labels[1::2, 1]).all()


def test_negatives_are_drawn_from_every_other_identity() -> None:
    train = build_train_set(_index(n_ids=3), [10, 20, 30], seq_len=16)
    rng, seen = np.random.default_rng(0), set()
    for _ in range(40):
        plan = sample_epoch(train, rng, 16)
        seen |= {tuple(p) for p in train.labels[plan.seqs[1::2]].tolist()}
    assert seen == {(a, b) for a in range(3) for b in range(3) if a != b}


def test_translations_cover_the_whole_signed_range_and_flips_are_fair() -> None:
    train = build_train_set(_index(n_ids=8), list(range(10, 90, 10)), seq_len=16)
    rng = np.random.default_rng(0)
    plans = [sample_epoch(train, rng, 16) for _ in range(30)]
    shifts = np.concatenate([p.shifts.reshape(-1, 2) for p in plans])
    # 5% of 128 x 64 = 6 x 3 pixels, every integer offset in [-6, 6] x [-3, 3] drawn
    assert set(shifts[:, 0].tolist()) == set(range(-6, 7))
    assert set(shifts[:, 1].tolist()) == set(range(-3, 4))
    flips = np.concatenate([p.flips.ravel() for p in plans])
    assert flips.dtype == bool and 0.4 < flips.mean() < 0.6
    plain = sample_epoch(train, np.random.default_rng(0), 16, flip=False, translate=0.1)
    assert plain.flips.dtype == bool and not plain.flips.any()
    assert plain.flips.shape == plain.seqs.shape and np.abs(plain.shifts[..., 0]).max() <= 13
    assert sample_epoch(train, np.random.default_rng(0), 16, translate=0.0).shifts.max() == 0
