"""Feature extraction: shapes per TTA mode, test length 1, first/last windows, TTA distances."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest
import torch
from test_train_toy import tiny_model_config

from amoc.eval.features import extract_features, tta_distmat, tta_params, window
from amoc.eval.metrics import euclidean_distmat
from amoc.models import ModelConfig, build_model


def _seqs(lengths: list[int]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (n, 128, 64, 3), dtype=np.uint8) for n in lengths]
    flows = [rng.normal(size=(n, 64, 32, 2)).astype(np.float16) for n in lengths]
    return frames, flows


def _model(variant: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(ModelConfig.from_dict(tiny_model_config(3, variant)))


@pytest.mark.parametrize(("tta", "n_aug"), [("none", 1), ("flip", 2), ("crops8_flip", 16)])
def test_shapes_per_tta_mode(tta: str, n_aug: int) -> None:
    frames, flows = _seqs([5, 2, 7])
    feats = extract_features(_model("amoc_offline"), frames, flows, test_length=4, tta=tta,
                             batch_size=2)
    assert feats.shape == (3, n_aug, 16) and torch.isfinite(feats).all()


@pytest.mark.parametrize("variant", ["amoc_offline", "amoc", "rcn"])
def test_test_length_one_duplicates_the_frame(variant: str) -> None:
    frames, flows = _seqs([1, 6])
    model = _model(variant)
    feats = extract_features(model, frames, flows, test_length=1)
    assert feats.shape == (2, 1, 16)
    pair = torch.from_numpy(np.repeat(frames[1][:1], 2, axis=0)).permute(0, 3, 1, 2)
    with torch.no_grad():
        direct = model(pair[None].float() / 255, torch.zeros(1, 1, 2, 64, 32)).features
    torch.testing.assert_close(feats[1, 0], direct[0])


def test_first_and_last_windows_and_input_order() -> None:
    assert window(10, 4, "first") == (0, 4) and window(10, 4, "last") == (6, 4)
    assert window(3, 4, "last") == (0, 3)
    frames, _ = _seqs([8, 3, 8])
    model = _model("amoc_nomotion")
    first = extract_features(model, frames, test_length=4, take="first")
    last = extract_features(model, frames, test_length=4, take="last")
    alone = extract_features(model, [frames[2][4:]], test_length=4)
    torch.testing.assert_close(last[2], alone[0])
    torch.testing.assert_close(first[1], last[1])  # shorter than L: used whole either way
    assert not torch.allclose(first[0], last[0])


def test_tta_params_cover_the_crop_range_and_flips() -> None:
    shifts, flips = tta_params("crops8_flip", 0.05)
    assert shifts.shape == (16, 2) and flips.sum() == 8
    assert shifts[:, 0].min() == -6 and shifts[:, 0].max() == 6
    assert shifts[:, 1].min() == -3 and shifts[:, 1].max() == 3
    with pytest.raises(ValueError, match="tta"):
        tta_params("crops")


def test_tta_distances_average_per_augmentation() -> None:
    q, g = torch.randn(3, 2, 5), torch.randn(4, 2, 5)
    expected = (euclidean_distmat(q[:, 0], g[:, 0]) + euclidean_distmat(q[:, 1], g[:, 1])) / 2
    torch.testing.assert_close(tta_distmat(q, g), expected)


class Output(NamedTuple):
    features: torch.Tensor
    logits: torch.Tensor | None


class Recorder(torch.nn.Module):
    """A stand-in encoder that keeps the frames it is given (its 'feature' is a frame sum)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def forward(self, frames: torch.Tensor, flow: torch.Tensor | None = None):
        self.seen.append(frames.clone())
        return Output(frames.flatten(1).sum(1, keepdim=True), None)


def test_crops8_flip_moves_the_content_and_pairs_every_crop_with_its_flip() -> None:
    r0, c0 = 64, 20
    clip = np.zeros((3, 128, 64, 3), np.uint8)
    clip[:, r0, c0] = 255  # one white pixel
    model = Recorder()
    feats = extract_features(model, [clip], test_length=3, tta="crops8_flip")
    assert feats.shape == (1, 16, 1) and len(model.seen) == 16
    where = [tuple(torch.nonzero(seen[0, 0, 0] == 1).tolist()[0]) for seen in model.seen]
    # (dy, dx) of each crop, unflipped then flipped: 8 crops along the diagonal to +-5% of h, w
    offsets = [(-6, -3), (-4, -2), (-3, -1), (-1, 0), (1, 0), (3, 1), (4, 2), (6, 3)]
    expected = [p for dy, dx in offsets for p in ((r0 + dy, c0 + dx), (r0 + dy, 63 - c0 + dx))]
    assert where == expected
    assert all(torch.equal(seen[0, 0], seen[0, 2]) for seen in model.seen)  # every frame alike


def test_a_sequence_features_do_not_depend_on_the_others_in_the_batch() -> None:
    # amoc.report.ranked extracts only the probes it shows and relies on this
    frames, flows = _seqs([5, 3, 7, 6])
    model = _model("amoc_offline")
    kwargs = {"test_length": 4, "tta": "crops8_flip", "batch_size": 3}
    full = extract_features(model, frames, flows, **kwargs)
    picked = extract_features(model, [frames[3], frames[1]], [flows[3], flows[1]], **kwargs)
    torch.testing.assert_close(picked, full[[3, 1]])
