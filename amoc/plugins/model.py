"""Building any model of the benchmark (an AMOC variant or a plug-in), checking a plug-in's
outputs against the contract of docs/plugins.md, and placing it in its memory format.

Training and evaluation both go through ``prepare_model``: the full output check (the real batch
size, train and eval mode) runs first, on the model as built; then a cheap shape check is hooked
onto every forward call; only then is the model converted to its memory format. The benchmark
picks channels_last only for its own models (4-D convolutions, measured faster); a plug-in of any
tensor rank declares its own (``memory_format`` class attribute, default contiguous).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

import torch
from torch import nn

from amoc.errors import CheckpointError, ConfigError
from amoc.models import AmocNet, ModelConfig, build_model
from amoc.plugins import is_plugin, load_object, model_spec

FRAME_SHAPE = (3, 128, 64)  # (C, H, W) of every frame fed to a model
FLOW_SHAPE = (2, 64, 32)  # (2, H/2, W/2) of the offline flow
MEMORY_FORMATS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last,
                  "channels_last_3d": torch.channels_last_3d}


def model_builder(values: Mapping[str, Any],
                  num_classes: int) -> tuple[dict[str, Any], Callable[[], nn.Module]]:
    """The plain model config saved in checkpoints and a function building the model from it.

    ``num_classes`` fills in a missing ``num_classes`` (the split's training identities).
    """
    config = {"num_classes": num_classes, **values}
    if not is_plugin(config):
        mcfg = ModelConfig.from_dict(config)
        return asdict(mcfg), lambda: build_model(mcfg)
    factory = load_object(config["class"], "model class")
    kwargs = {k: v for k, v in config.items() if k != "class"}

    def build() -> nn.Module:
        try:
            model = factory(**kwargs)
        except TypeError as err:
            raise ConfigError(f"model class {config['class']!r}: calling it with {kwargs} "
                              f"failed ({err}); the model config's keys are its keywords") from err
        if not isinstance(model, nn.Module):
            raise ConfigError(f"model class {config['class']!r} returned a "
                              f"{type(model).__name__}, not a torch.nn.Module")
        return model

    return config, build


def _contract_error(path: str, what: str) -> ConfigError:
    return ConfigError(f"model class {path!r} breaks the model contract (docs/plugins.md): {what}")


def _check_output(path: str, out: Any, batch: int, num_classes: int, step: str) -> None:
    """Raise a ConfigError unless ``out`` has tensors ``.features`` (B, D) and ``.logits`` (B, K)."""
    for name, width in (("features", None), ("logits", num_classes)):
        value = getattr(out, name, None)
        if not isinstance(value, torch.Tensor):
            raise _contract_error(path, f"{step}: forward() must return an object with a tensor "
                                        f"'.{name}' (e.g. a NamedTuple); got {type(out).__name__}")
        expected = f"({batch}, {'D' if width is None else width})"
        if value.ndim != 2 or value.shape[0] != batch or (width and value.shape[1] != width):
            raise _contract_error(path, f"{step}: .{name} must have shape {expected} for a batch "
                                        f"of {batch} clips, got {tuple(value.shape)}")
        if not value.is_floating_point():
            raise _contract_error(path, f"{step}: .{name} must be floating point, got "
                                        f"{value.dtype}")


def check_outputs(model: nn.Module, config: Mapping[str, Any], seq_len: int,
                  device: torch.device, batch: int = 2,
                  modes: Sequence[str] = ("train", "eval"), step: str = "training") -> None:
    """Run a plug-in on a dummy batch of ``batch`` clips in each mode and check its outputs.

    The RNG state and the buffers (e.g. BatchNorm statistics) are restored afterwards, so
    training is unchanged.

    Raises:
        ConfigError: naming the class, the step, the mode and the first output that breaks the
        contract.
    """
    path = config["class"]
    dummy = torch.Generator().manual_seed(0)  # leaves the global RNG untouched
    frames = torch.rand(batch, seq_len, *FRAME_SHAPE, generator=dummy).to(device)
    flow = None
    if model_spec(config).reads_offline_flow:
        flow = torch.zeros(batch, seq_len - 1, *FLOW_SHAPE, device=device)
    was_training = model.training
    buffers = {name: b.detach().clone() for name, b in model.named_buffers()}
    rng_devices = [device] if device.type == "cuda" else []
    try:
        for mode in modes:
            with torch.random.fork_rng(devices=rng_devices), torch.no_grad():
                model.train(mode == "train")
                out = model(frames, flow)
            _check_output(path, out, batch, config["num_classes"], f"{step}, {mode} mode")
    finally:
        model.train(was_training)
        with torch.no_grad():
            for name, b in model.named_buffers():
                b.copy_(buffers[name])


def _shape_guard(path: str, num_classes: int) -> Callable[..., None]:
    """A forward hook checking every call's output shapes (no device sync: shapes only)."""
    def hook(module: nn.Module, args: tuple, kwargs: dict, out: Any) -> None:
        frames = args[0] if args else kwargs["frames"]
        step = "training forward" if module.training else "evaluation forward"
        _check_output(path, out, frames.shape[0], num_classes, step)
    return hook


def memory_format(model: nn.Module, config: Mapping[str, Any],
                  channels_last: bool = True) -> torch.memory_format:
    """The memory format a model runs in; ``channels_last`` False keeps every model contiguous.

    Raises:
        ConfigError: a plug-in's ``memory_format`` attribute names no known format.
    """
    if not channels_last:
        return torch.contiguous_format
    if not is_plugin(config):
        return torch.channels_last
    name = getattr(model, "memory_format", "contiguous")
    if name not in MEMORY_FORMATS:
        raise _contract_error(config["class"], f"memory_format = {name!r} is not one of "
                                               f"{sorted(MEMORY_FORMATS)}")
    return MEMORY_FORMATS[name]


def prepare_model(model: nn.Module, config: Mapping[str, Any], device: torch.device, *,
                  step: str, channels_last: bool = True, seq_len: int = 2, batch: int = 2,
                  modes: Sequence[str] = ("train", "eval")) -> nn.Module:
    """Move ``model`` to ``device``; for a plug-in, check it and guard every call; convert it.

    ``batch`` and ``seq_len`` are the step's real clip batch and length (training:
    2 x pairs per step clips of ``train.seq_len`` frames; evaluation: ``eval.batch_size``).

    Raises:
        ConfigError: naming the class and the step (a broken output, or a memory format the
        model's weights cannot take).
    """
    model = model.to(device)
    fmt = memory_format(model, config, channels_last)
    if is_plugin(config):
        check_outputs(model, config, seq_len, device, batch, modes, step)
        model.register_forward_hook(_shape_guard(config["class"], config["num_classes"]),
                                    with_kwargs=True)
    try:
        return model.to(memory_format=fmt)
    except RuntimeError as err:
        what = config.get("class", config.get("variant"))
        raise ConfigError(f"{step}: model {what!r} cannot be converted to {fmt} ({err}); a "
                          "plug-in sets the class attribute memory_format (docs/plugins.md), or "
                          "set train.channels_last: false") from err


def rebuild_model(payload: Mapping[str, Any], source: str = "checkpoint") -> nn.Module:
    """A trained model from an "amoc-model" checkpoint payload (AMOC or plug-in), in eval mode.

    Raises:
        CheckpointError: weights that do not fit the saved config.
    """
    config = payload["model_config"]
    if not is_plugin(config):
        return AmocNet.from_checkpoint(payload, source)
    model = model_builder(config, config["num_classes"])[1]()
    try:
        model.load_state_dict(payload["model_state"])
    except RuntimeError as err:
        raise CheckpointError(f"{source}: weights do not fit model class {config['class']!r} "
                              f"as configured: {err}") from err
    return model.eval()


def inference_model(payload: Mapping[str, Any], source: str, device: torch.device,
                    batch: int, seq_len: int) -> nn.Module:
    """A trained model ready for evaluation: rebuilt, checked (eval mode) and in the memory format
    it was trained in."""
    model = rebuild_model(payload, source)
    channels_last = payload.get("train_config", {}).get("channels_last", True)
    model = prepare_model(model, payload["model_config"], device, step=f"evaluating {source}",
                          channels_last=channels_last, seq_len=seq_len, batch=batch,
                          modes=("eval",))
    return model.eval()


def model_label(config: Mapping[str, Any], variant: str | None = None) -> str:
    """How errors name a model: its variant and, for a plug-in, its class path."""
    name = variant or config.get("variant") or "plug-in"
    return f"variant {name!r}" + (f" (class {config['class']!r})" if is_plugin(config) else "")
