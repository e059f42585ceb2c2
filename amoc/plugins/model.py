"""Building any model of the benchmark (an AMOC variant or a plug-in) and checking a plug-in's
outputs against the contract of docs/plugins.md before its first training step."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any

import torch
from torch import nn

from amoc.errors import CheckpointError, ConfigError
from amoc.models import AmocNet, ModelConfig, build_model
from amoc.plugins import is_plugin, load_object, model_spec

FRAME_SHAPE = (3, 128, 64)  # (C, H, W) of every frame fed to a model
FLOW_SHAPE = (2, 64, 32)  # (2, H/2, W/2) of the offline flow


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


def check_outputs(model: nn.Module, config: Mapping[str, Any], seq_len: int,
                  device: torch.device) -> None:
    """Run a plug-in once on a dummy batch and check what the losses and evaluation read.

    Runs in eval mode with the RNG state restored afterwards, so training is unchanged.

    Raises:
        ConfigError: naming the class and the first output that breaks the contract.
    """
    path, batch, steps = config["class"], 2, seq_len - 1
    frames = torch.rand(batch, seq_len, *FRAME_SHAPE, device=device)
    flow = torch.zeros(batch, steps, *FLOW_SHAPE, device=device)
    was_training = model.training
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        model.eval()
        try:
            out = model(frames, flow if model_spec(config).reads_offline_flow else None)
        finally:
            model.train(was_training)
    for name, width in (("features", None), ("logits", config["num_classes"])):
        value = getattr(out, name, None)
        if not isinstance(value, torch.Tensor):
            raise _contract_error(path, f"forward() must return an object with a tensor "
                                        f"'.{name}' (e.g. a NamedTuple); got {type(out).__name__}")
        expected = f"({batch}, {'D' if width is None else width})"
        if value.ndim != 2 or value.shape[0] != batch or (width and value.shape[1] != width):
            raise _contract_error(path, f".{name} must have shape {expected} for a batch of "
                                        f"{batch} clips, got {tuple(value.shape)}")
        if not value.is_floating_point():
            raise _contract_error(path, f".{name} must be floating point, got {value.dtype}")


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
