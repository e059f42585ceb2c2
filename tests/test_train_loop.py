"""The training loop on the toy problem: paper and batched modes, loss reduction, batch mean,
and the prefetching loader (same batches and losses as the synchronous one)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_train_toy import build_toy, tiny_model_config

from amoc.data.cache import FrameCache
from amoc.flow.layout import FlowStore
from amoc.models import ModelConfig, build_model
from amoc.train import loop
from amoc.train.batches import PairBatch, host_batches, load_pairs, to_device_pairs
from amoc.train.clips import prefetched
from amoc.train.graphs import GraphedStep
from amoc.train.loop import pair_loss, train_one_epoch
from amoc.train.sampling import build_train_set, sample_epoch

CPU = torch.device("cpu")
SEQ = 6


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> dict:
    paths = build_toy(tmp_path_factory.mktemp("toy"), n_ids=8)
    cache = FrameCache(paths["cache"])
    train = build_train_set(cache.index, [2, 4, 6, 8], seq_len=SEQ)
    return {"frames": cache.frames, "flow": FlowStore(paths["flow"]).flow, "train": train}


def _model(variant: str = "amoc_nomotion", **kw) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(ModelConfig.from_dict(tiny_model_config(4, variant, **kw)))


def _epochs(toy: dict, model: torch.nn.Module, pairs_per_step: int, n: int, lr: float,
            flow: bool = False, prefetch: bool | None = None) -> list[dict]:
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(0)
    stats = []
    for _ in range(n):
        plan = sample_epoch(toy["train"], rng, SEQ)
        stats.append(train_one_epoch(model, opt, toy["train"], plan, toy["frames"],
                                     toy["flow"] if flow else None, seq_len=SEQ,
                                     pairs_per_step=pairs_per_step, margin=2.0, grad_clip=5.0,
                                     device=CPU, prefetch=prefetch))
    return stats


@pytest.mark.parametrize(("pairs_per_step", "batches"), [(1, [1] * 8), (3, [3, 3, 2])])
def test_epoch_steps_once_per_batch_of_pairs_with_offline_flow(
        toy: dict, monkeypatch: pytest.MonkeyPatch, pairs_per_step: int, batches: list[int]
) -> None:
    """Paper mode (1 pair) takes one optimiser step per pair; batched mode one per P pairs."""
    sizes = []
    real_loss = loop.pair_loss

    def counting_loss(model, batch, margin):
        sizes.append((batch.labels.shape[0] // 2, batch.flow.shape[0] // 2))
        return real_loss(model, batch, margin)

    monkeypatch.setattr(loop, "pair_loss", counting_loss)
    model = _model("amoc_offline")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    steps = []
    real_step = opt.step
    monkeypatch.setattr(opt, "step", lambda *a, **kw: steps.append(1) or real_step(*a, **kw))
    plan = sample_epoch(toy["train"], np.random.default_rng(0), SEQ)
    assert len(plan) == 8
    stats = train_one_epoch(model, opt, toy["train"], plan, toy["frames"], toy["flow"],
                            seq_len=SEQ, pairs_per_step=pairs_per_step, margin=2.0,
                            grad_clip=5.0, device=CPU)
    assert sizes == [(n, n) for n in batches] and len(steps) == len(batches)
    assert stats["pairs"] == 8 and np.isfinite(stats["loss"]) and stats["frame_pairs_per_s"] > 0


def test_batched_mode_reduces_the_loss_on_a_separable_toy(toy: dict) -> None:
    stats = _epochs(toy, _model(), 4, 6, 3e-3)
    first, last = stats[0]["loss"], np.mean([s["loss"] for s in stats[-2:]])
    assert last < 0.7 * first, [round(s["loss"], 3) for s in stats]


def test_paper_mode_reduces_the_loss(toy: dict) -> None:
    stats = _epochs(toy, _model(), 1, 4, 1e-3)
    assert np.mean([s["loss"] for s in stats[-2:]]) < stats[0]["loss"]


def test_batched_loss_is_the_mean_of_per_pair_losses(toy: dict) -> None:
    model = _model("amoc_offline").eval()
    plan = sample_epoch(toy["train"], np.random.default_rng(3), SEQ)
    pairs = np.arange(len(plan))
    batch = load_pairs(toy["train"], plan, pairs, toy["frames"], toy["flow"], SEQ, CPU)
    p = len(pairs)
    with torch.no_grad():
        together = pair_loss(model, batch, 2.0).total
        singles = [pair_loss(model, PairBatch(batch.frames[[i, p + i]], batch.flow[[i, p + i]],
                                              batch.labels[[i, p + i]]), 2.0).total
                   for i in range(p)]
    torch.testing.assert_close(together, torch.stack(singles).mean(), rtol=1e-5, atol=1e-6)


def test_end_to_end_variant_trains_through_the_motion_net(toy: dict) -> None:
    model = _model("amoc")
    before = [p.detach().clone() for p in model.motion_net.parameters()]
    (stats,) = _epochs(toy, model, 8, 1, 1e-3)
    assert np.isfinite(stats["loss"])
    assert any(not torch.equal(a, b) for a, b in zip(before, model.motion_net.parameters()))


def test_load_pairs_orders_first_then_second_sequences(toy: dict) -> None:
    plan = sample_epoch(toy["train"], np.random.default_rng(0), SEQ)
    batch = load_pairs(toy["train"], plan, np.array([0, 1]), toy["frames"], None, SEQ, CPU)
    expected = toy["train"].labels[plan.seqs[[0, 1]].T.reshape(-1)]
    assert batch.labels.tolist() == expected.tolist()
    assert batch.frames.shape == (4, SEQ, 3, 128, 64) and batch.flow is None
    assert batch.labels[0] == batch.labels[2] and batch.labels[1] != batch.labels[3]


def test_prefetched_keeps_order_and_raises_where_the_result_is_taken() -> None:
    for depth in (0, 1, 2, 5):
        assert list(prefetched(lambda x: x * x, range(7), depth)) == [x * x for x in range(7)]

    def load(x: int) -> int:
        if x == 3:
            raise ValueError("bad item 3")
        return x

    loaded = prefetched(load, range(6), 2)
    assert [next(loaded) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(ValueError, match="bad item 3"):
        next(loaded)


def test_prefetched_host_batches_equal_the_synchronous_ones(toy: dict) -> None:
    plan = sample_epoch(toy["train"], np.random.default_rng(5), SEQ)
    chunks = np.array_split(np.arange(len(plan)), [3, 6])  # uneven last step
    args = (toy["train"], plan, chunks, toy["frames"], toy["flow"], SEQ, CPU)
    for sync, fetched in zip(host_batches(*args, prefetch=False),
                             host_batches(*args, prefetch=True), strict=True):
        for name in ("frames", "flow", "moving", "shifts", "flips", "labels"):
            assert torch.equal(getattr(sync, name), getattr(fetched, name)), name
        assert not fetched.frames.is_pinned()  # pinning is for CUDA only
    chunk = chunks[0]
    direct = load_pairs(toy["train"], plan, chunk, toy["frames"], toy["flow"], SEQ, CPU)
    (first,) = list(host_batches(toy["train"], plan, [chunk], toy["frames"], toy["flow"], SEQ,
                                 CPU, prefetch=True))
    moved = to_device_pairs(first, CPU)
    assert torch.equal(moved.frames, direct.frames) and torch.equal(moved.flow, direct.flow)


@pytest.mark.parametrize("pairs_per_step", [1, 3])
def test_prefetching_epoch_is_bit_identical_to_the_synchronous_one(toy: dict,
                                                                   pairs_per_step: int) -> None:
    runs = []
    for prefetch in (False, True):
        model = _model("amoc_offline", dropout=0.5)  # dropout: torch RNG order must not change
        stats = _epochs(toy, model, pairs_per_step, 2, 1e-3, flow=True, prefetch=prefetch)
        runs.append(([s["loss"] for s in stats], model.state_dict()))
    (sync_losses, sync_state), (fetched_losses, fetched_state) = runs
    assert sync_losses == fetched_losses
    for key, value in sync_state.items():
        assert torch.equal(value, fetched_state[key]), key


def test_graphed_step_falls_back_to_the_eager_step_off_cuda(
        toy: dict, caplog: pytest.LogCaptureFixture) -> None:
    """Asked for CUDA graphs on a CPU, the step warns once and trains exactly as eagerly."""
    eager = _model(dropout=0.0)
    _epochs(toy, eager, 1, 1, lr=1e-3, flow=True)
    graphed = _model(dropout=0.0)
    opt = torch.optim.Adam(graphed.parameters(), lr=1e-3)
    step = GraphedStep(loop.single_step(graphed, opt, 2.0, 5.0, False), CPU, enabled=True)
    assert "CUDA graphs need a CUDA device" in caplog.text and not step.enabled
    plan = sample_epoch(toy["train"], np.random.default_rng(0), SEQ)
    train_one_epoch(graphed, opt, toy["train"], plan, toy["frames"], toy["flow"], seq_len=SEQ,
                    pairs_per_step=1, margin=2.0, grad_clip=5.0, device=CPU, step=step)
    for a, b in zip(eager.parameters(), graphed.parameters(), strict=True):
        assert torch.equal(a, b)
