"""Clip gathering: rows of the frame cache (and flow store) -> batched tensors for the model.

A clip of T frames is read as T cache rows; a sequence shorter than T (padded training sequence,
or a one-frame test sequence) repeats its last frame, and the flow of a repeated step is zero
(no motion between identical frames). Flow row i of the store is the flow from frame i to i + 1
of the same tracklet, so the T - 1 flow rows of a clip are its first T - 1 frame rows.

Reading is split in a host half (numpy gather into a CPU tensor, pinned for a GPU) and a device
half (async copy, conversion), so that ``prefetched`` can run the host half of the next steps in a
background thread while the current step runs on the GPU.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import torch

Item = TypeVar("Item")
Out = TypeVar("Out")


def clip_rows(offsets: np.ndarray, starts: np.ndarray, used: np.ndarray, length: int) -> np.ndarray:
    """Cache rows of S clips of ``length`` frames; steps past ``used`` repeat the last frame.

    Args:
        offsets: first cache row of each sequence.
        starts: first frame of each clip within its sequence.
        used: real frames in each clip (1..length); the rest repeat frame ``used - 1``.
        length: T.

    Returns:
        int64 rows, shape (S, T).
    """
    steps = np.minimum(np.arange(length)[None, :], np.asarray(used)[:, None] - 1)  # (S, T)
    return (np.asarray(offsets) + np.asarray(starts))[:, None] + steps


def host_tensor(array: np.ndarray, pin: bool = False) -> torch.Tensor:
    """A contiguous CPU tensor of ``array``, in pinned memory if ``pin`` (async GPU copies)."""
    out = torch.from_numpy(np.ascontiguousarray(array))
    return out.pin_memory() if pin else out


def read_rows(array: np.ndarray, rows: np.ndarray, pin: bool = False) -> torch.Tensor:
    """Host copy of the selected rows of a cache or store (one numpy gather, no per-row Python).

    Shape:
        array (N, ...) memmap; rows (S, T) -> (S, T, ...) CPU tensor, pinned if ``pin``.
    """
    return host_tensor(array[rows.reshape(-1)], pin).unflatten(0, rows.shape)


def moving_steps(rows: np.ndarray) -> np.ndarray:
    """(S, T) clip rows -> (S, T - 1) bool: False where step t repeats frame t (zero flow)."""
    return rows[:, 1:] != rows[:, :-1]


def gather_clips(frames: np.ndarray, rows: np.ndarray, device: torch.device) -> torch.Tensor:
    """Read clip frames from the cache and move them, still uint8, to ``device``.

    Shape:
        frames (N, H, W, 3) uint8 memmap; rows (S, T) -> (S, T, H, W, 3) uint8.
    """
    return read_rows(frames, rows).to(device, non_blocking=True)


def gather_flow(flow: np.ndarray, rows: np.ndarray, device: torch.device) -> torch.Tensor:
    """Offline flow of each clip step, zero where a frame repeats, channels first, float32.

    Shape:
        flow (N, h, w, 2) float16 memmap; rows (S, T) -> (S, T - 1, 2, h, w) float32.
    """
    moving = torch.from_numpy(moving_steps(rows)).to(device)  # (S, T-1)
    steps = read_rows(flow, rows[:, :-1])  # (S, T-1, h, w, 2): flow from frame rows[t] to + 1
    return flow_channels_first(steps.to(device, non_blocking=True), moving)


def flow_channels_first(steps: torch.Tensor, moving: torch.Tensor) -> torch.Tensor:
    """Stored flow of clip steps -> the model's float32 layout, zeroed where a frame repeats.

    Shape:
        steps (S, T-1, h, w, 2) float16; moving (S, T-1) bool -> (S, T-1, 2, h, w) float32.
    """
    out = steps.float().permute(0, 1, 4, 2, 3)  # (S, T-1, 2, h, w)
    return out * moving[:, :, None, None, None]


def to_unit_float(clips: torch.Tensor) -> torch.Tensor:
    """uint8 channels-last clips -> float in [0, 1], the model's layout.

    Shape:
        (S, T, H, W, 3) uint8 -> (S, T, 3, H, W) float32.
    """
    return clips.permute(0, 1, 4, 2, 3).float().div_(255.0)


def prefetched(load: Callable[[Item], Out], items: Iterable[Item],
               depth: int) -> Generator[Out, None, None]:
    """``map(load, items)``, with up to ``depth`` items loaded ahead by one background thread.

    Results come in item order and are the same as ``map``'s (``load`` must draw no random
    numbers); ``depth`` 0 is plain ``map`` in the calling thread. Close the iterator (or exhaust
    it) to stop the thread; an exception in ``load`` is raised where its result is taken.
    """
    if depth < 1:
        yield from map(load, items)
        return
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="amoc-prefetch")
    pending: deque[Future[Out]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(load, item))
            if len(pending) > depth:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
