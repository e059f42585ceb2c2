"""The training fast path (bf16 autocast, channels_last, batched pairs, compile, pinned-memory
prefetch) keeps the loss.

Every comparison uses one batch and one set of weights in eval mode (dropout off), so the only
difference is the numerical path. CPU tests always run; CUDA tests run on a GPU machine
(`python -m pytest tests/test_fastpath.py` there).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from amoc.bench.train import SyntheticData, make_plan, synthetic_data
from amoc.models import ModelConfig, build_model
from amoc.train.batches import PairBatch, host_batches, load_pairs, to_device_pairs
from amoc.train.loop import autocast_for, optimizer_step, pair_loss, train_one_epoch
from amoc.train.run import enable_cudnn_autotune

CPU = torch.device("cpu")
CUDA_ONLY = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
N_PAIRS, SEQ_LEN, MARGIN = 2, 3, 2.0


@pytest.fixture(scope="module")
def data() -> SyntheticData:
    return synthetic_data(n_ids=4, seq_len=SEQ_LEN)


def _batch(data: SyntheticData, device: torch.device) -> PairBatch:
    plan = make_plan(data, N_PAIRS)
    return load_pairs(data.train, plan, np.arange(N_PAIRS), data.frames, None, SEQ_LEN, device)


def _model(data: SyntheticData, device: torch.device) -> torch.nn.Module:
    torch.manual_seed(0)
    cfg = ModelConfig(num_classes=data.train.num_classes, motion_width=0.25)
    return build_model(cfg).to(device).eval()


def _relative_error(got: torch.Tensor, want: torch.Tensor) -> float:
    return ((got.float() - want).norm() / want.norm()).item()


def _loss_and_grads(model: torch.nn.Module, batch: PairBatch) -> tuple[float, list[torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    loss = pair_loss(model, batch, MARGIN).total
    loss.backward()
    return loss.item(), [p.grad.detach().float().clone() for p in model.parameters()]


@pytest.fixture()
def strict_fp32() -> Iterator[None]:
    """Exact fp32 on CUDA (no TF32), so layout changes alone are compared."""
    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before


def _check_channels_last(data: SyntheticData, device: torch.device) -> None:
    model, batch = _model(data, device), _batch(data, device)
    ref_loss, ref_grads = _loss_and_grads(model, batch)
    fast = copy.deepcopy(model).to(memory_format=torch.channels_last)
    loss, grads = _loss_and_grads(fast, batch)
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    for got, want in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)


def test_channels_last_matches_fp32_loss_and_gradients_cpu(data: SyntheticData) -> None:
    _check_channels_last(data, CPU)


def test_autocast_for_is_bf16_on_cuda_only() -> None:
    with warnings.catch_warnings():  # building a CUDA autocast on a CPU-only box warns
        warnings.simplefilter("ignore", UserWarning)
        on_cuda = autocast_for(torch.device("cuda"), amp=True)
    assert isinstance(on_cuda, torch.autocast)
    assert on_cuda.device == "cuda" and on_cuda.fast_dtype == torch.bfloat16
    for device, amp in ((torch.device("cuda"), False), (CPU, True), (CPU, False)):
        assert not isinstance(autocast_for(device, amp), torch.autocast), (device, amp)
        with autocast_for(device, amp):
            assert not torch.is_autocast_enabled("cuda")
            assert not torch.is_autocast_enabled("cpu")


def test_amp_leaves_cpu_training_steps_in_exact_fp32(data: SyntheticData) -> None:
    """`amp` is CUDA-only: on CPU the optimiser step (through autocast_for) is bit-identical."""
    batch, states, losses = _batch(data, CPU), [], []
    for amp in (False, True):
        model = _model(data, CPU).train()
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
        torch.manual_seed(1)  # the same dropout masks
        losses.append(optimizer_step(model, optimizer, batch, MARGIN, grad_clip=5.0, amp=amp))
        states.append(model.state_dict())
    assert losses[0].dtype == torch.float32 and torch.equal(losses[0], losses[1])
    for key, value in states[0].items():
        assert torch.equal(value, states[1][key]), key


def test_batched_loss_is_the_mean_of_per_pair_losses(data: SyntheticData) -> None:
    model, batch = _model(data, CPU), _batch(data, CPU)
    with torch.no_grad():
        batched = pair_loss(model, batch, MARGIN).total.item()
        singles = []
        for p in range(N_PAIRS):
            rows = [p, N_PAIRS + p]  # pair p: first sequence p, second sequence P + p
            one = PairBatch(batch.frames[rows], None, batch.labels[rows])
            singles.append(pair_loss(model, one, MARGIN).total.item())
    assert batched == pytest.approx(float(np.mean(singles)), rel=1e-5)


@pytest.fixture()
def cudnn_benchmark() -> Iterator[None]:
    """Restore the global cuDNN autotune flag after a test sets it."""
    before = torch.backends.cudnn.benchmark
    yield
    torch.backends.cudnn.benchmark = before


@pytest.mark.parametrize("before", [False, True])
def test_cudnn_autotune_leaves_cpu_runs_alone(cudnn_benchmark: None, before: bool) -> None:
    torch.backends.cudnn.benchmark = before
    enable_cudnn_autotune(CPU)
    assert torch.backends.cudnn.benchmark is before


def test_cudnn_autotune_turns_benchmarking_on_for_cuda(cudnn_benchmark: None) -> None:
    # Only the device's type is read, so the flag can be checked on a CPU-only machine too.
    torch.backends.cudnn.benchmark = False
    enable_cudnn_autotune(torch.device("cuda"))
    assert torch.backends.cudnn.benchmark is True


def _flow(data: SyntheticData) -> np.ndarray:
    """Random offline flow aligned with the synthetic frames: (N, 64, 32, 2) float16."""
    rng = np.random.default_rng(1)
    return rng.standard_normal((len(data.frames), 64, 32, 2)).astype(np.float16)


@CUDA_ONLY
def test_pinned_prefetch_gives_the_synchronous_batches_cuda(data: SyntheticData) -> None:
    device, flow = torch.device("cuda"), _flow(data)
    plan = make_plan(data, 5)
    chunks = np.array_split(np.arange(5), [2, 4])
    hosts = host_batches(data.train, plan, chunks, data.frames, flow, SEQ_LEN, device, None)
    for host, chunk in zip(hosts, chunks, strict=True):
        assert host.frames.is_pinned() and host.flow.is_pinned() and host.labels.is_pinned()
        got = to_device_pairs(host, device)
        want = load_pairs(data.train, plan, chunk, data.frames, flow, SEQ_LEN, device)
        assert torch.equal(got.frames, want.frames) and torch.equal(got.flow, want.flow)
        assert torch.equal(got.labels, want.labels)


@CUDA_ONLY
def test_prefetching_epoch_matches_the_synchronous_one_cuda(data: SyntheticData,
                                                            strict_fp32: None) -> None:
    device, losses = torch.device("cuda"), []
    for prefetch in (False, True):
        model = _model(data, device)
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
        stats = train_one_epoch(model, optimizer, data.train, make_plan(data, 6), data.frames,
                                None, seq_len=SEQ_LEN, pairs_per_step=2, margin=MARGIN,
                                grad_clip=5.0, device=device, prefetch=prefetch)
        losses.append(stats["loss"])
    assert losses[1] == pytest.approx(losses[0], rel=1e-5)


@CUDA_ONLY
def test_channels_last_matches_fp32_cuda(data: SyntheticData, strict_fp32: None) -> None:
    _check_channels_last(data, torch.device("cuda"))


@CUDA_ONLY
def test_bf16_autocast_with_channels_last_matches_fp32_cuda(data: SyntheticData) -> None:
    device = torch.device("cuda")
    model, batch = _model(data, device), _batch(data, device)
    ref, _ = _loss_and_grads(model, batch)
    fast = copy.deepcopy(model).to(memory_format=torch.channels_last)
    with autocast_for(device, amp=True):
        loss, grads = _loss_and_grads(fast, batch)
        with torch.no_grad():
            features = fast(batch.frames).features
    with torch.no_grad():
        ref_features = model(batch.frames).features
    assert loss == pytest.approx(ref, rel=2e-2)
    assert _relative_error(features, ref_features) < 2e-2
    assert all(torch.isfinite(g).all() for g in grads)


@CUDA_ONLY
def test_compiled_model_matches_eager_cuda(data: SyntheticData, strict_fp32: None) -> None:
    device = torch.device("cuda")
    model, batch = _model(data, device), _batch(data, device)
    with torch.no_grad():
        ref = pair_loss(model, batch, MARGIN).total.item()
        loss = pair_loss(torch.compile(model), batch, MARGIN).total.item()
    assert loss == pytest.approx(ref, rel=1e-4)


@CUDA_ONLY
def test_batched_fast_training_epoch_runs_cuda(data: SyntheticData) -> None:
    device = torch.device("cuda")
    model = _model(data, device).to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    stats = train_one_epoch(model, optimizer, data.train, make_plan(data, 4), data.frames, None,
                            seq_len=SEQ_LEN, pairs_per_step=2, margin=MARGIN, grad_clip=5.0,
                            device=device, amp=True)
    assert np.isfinite(stats["loss"]) and stats["frame_pairs_per_s"] > 0
