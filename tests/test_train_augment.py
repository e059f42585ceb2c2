"""Augmentation (translation + flip, frames and flow together) and clip gathering."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from amoc.train.augment import affine_thetas, augment
from amoc.train.clips import clip_rows, gather_clips, gather_flow, to_unit_float


def _inputs(s: int = 3, t: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.rand(s, t, 3, 128, 64, generator=g), torch.rand(s, t - 1, 2, 64, 32, generator=g)


def test_shapes_are_kept() -> None:
    frames, flow = _inputs()
    shifts = torch.tensor([[6, -3], [0, 0], [-6, 3]])
    out, out_flow = augment(frames, shifts, torch.tensor([True, False, True]), flow)
    assert out.shape == frames.shape and out_flow.shape == flow.shape
    assert augment(frames, shifts, torch.zeros(3, dtype=torch.bool))[1] is None


def test_flip_mirrors_frames_and_negates_u() -> None:
    frames, flow = _inputs(2)
    out, out_flow = augment(frames, torch.zeros(2, 2, dtype=torch.long),
                            torch.tensor([False, True]), flow)
    assert torch.equal(out[0], frames[0])
    assert torch.equal(out[1], frames[1].flip(-1))
    torch.testing.assert_close(out_flow[0], flow[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(out_flow[1, :, 0], -flow[1, :, 0].flip(-1), atol=1e-5, rtol=0)
    torch.testing.assert_close(out_flow[1, :, 1], flow[1, :, 1].flip(-1), atol=1e-5, rtol=0)


def test_translation_moves_content_and_replicates_the_border() -> None:
    frames, flow = _inputs(1)
    out, out_flow = augment(frames, torch.tensor([[2, 4]]), torch.tensor([False]), flow)
    assert torch.equal(out[0, ..., 2:, 4:], frames[0, ..., :-2, :-4])  # exact pixel copy
    assert torch.equal(out[0, ..., 0, 4:], frames[0, ..., 0, :-4])  # replicated top row
    # the same geometric shift on the half-size flow grid: 1 row, 2 columns; values unchanged
    torch.testing.assert_close(out_flow[0, ..., 1:, 2:], flow[0, ..., :-1, :-2], atol=1e-5, rtol=0)


def test_frames_are_what_nearest_grid_sample_of_the_same_transform_gives() -> None:
    """The index gather agrees bit for bit with resampling by the flow's theta (nearest,
    border padding), for shifts beyond the frame edge and with and without the mirror."""
    frames, _ = _inputs(8, 2)
    shifts = torch.tensor([[6, -3], [0, 0], [-6, 3], [127, 63], [-140, -70], [1, 1], [0, 5],
                           [-2, 0]])
    flips = torch.tensor([True, False, True, False, True, True, False, True])
    theta = affine_thetas(shifts, flips, (128, 64)).repeat_interleave(2, dim=0)
    flat = frames.flatten(0, 1)
    grid = F.affine_grid(theta, list(flat.shape), align_corners=False)
    want = F.grid_sample(flat, grid, mode="nearest", padding_mode="border", align_corners=False)
    assert torch.equal(augment(frames, shifts, flips)[0], want.unflatten(0, (8, 2)))


def test_clip_rows_pad_by_repeating_the_last_frame() -> None:
    rows = clip_rows(np.array([100, 0]), np.array([3, 0]), np.array([4, 2]), 4)
    assert rows.tolist() == [[103, 104, 105, 106], [0, 1, 1, 1]]


def test_gathered_flow_is_zero_where_a_frame_repeats() -> None:
    frames = np.arange(6, dtype=np.uint8)[:, None, None, None] * np.ones((1, 8, 4, 3), np.uint8)
    flow = np.ones((6, 4, 2, 2), dtype=np.float16)
    rows = clip_rows(np.array([0]), np.array([1]), np.array([2]), 4)  # frames 1, 2, 2, 2
    clips = to_unit_float(gather_clips(frames, rows, torch.device("cpu")))
    assert clips.shape == (1, 4, 3, 8, 4)
    assert torch.allclose(clips[0, :, 0, 0, 0] * 255, torch.tensor([1.0, 2, 2, 2]))
    f = gather_flow(flow, rows, torch.device("cpu"))
    assert f.shape == (1, 3, 2, 4, 2) and f.dtype == torch.float32
    assert f[0, :, 0, 0, 0].tolist() == [1.0, 0.0, 0.0]
