"""Self-describing, atomic checkpoints and exact resumption.

A checkpoint holds the unwrapped model weights, the model config (plain dict), the optimiser
state, the epoch (or iteration), every RNG state the run draws from, the run config, seed,
device, library versions and the training wall time so far. ``load_model(path)`` needs nothing
else. Restoring all of it makes a resumed CPU run bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from amoc.atomic import write_atomic
from amoc.errors import CheckpointError
from amoc.plugins.model import rebuild_model
from amoc.provenance import code_version, library_versions

log = logging.getLogger(__name__)

FORMAT = 1


def unwrap(model: nn.Module) -> nn.Module:
    """The plain module behind a ``torch.compile`` wrapper (weights are saved unwrapped)."""
    return getattr(model, "_orig_mod", model)


def plain(config: dict[str, Any]) -> dict[str, Any]:
    """JSON-normal form of a config dict (tuples -> lists) so saved and new configs compare."""
    return json.loads(json.dumps(config, sort_keys=True))


def rng_states(np_rng: np.random.Generator) -> dict[str, Any]:
    """Every RNG state a run draws from: torch (CPU, CUDA: dropout, init) and the numpy Generator.

    Python's ``random`` is not used anywhere in training, so it is not captured.
    """
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy": np_rng.bit_generator.state}


def restore_rng_states(states: dict[str, Any], np_rng: np.random.Generator) -> None:
    """Put back the states captured by ``rng_states`` (``np_rng`` is updated in place)."""
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    np_rng.bit_generator.state = states["numpy"]


def save_checkpoint(path: str | os.PathLike, *, kind: str, model: nn.Module,
                    model_config: dict[str, Any], **fields: Any) -> None:
    """Write a checkpoint atomically.

    Args:
        path: destination file.
        kind: "amoc-model" or "motion-net" (checked on load).
        model: the (possibly compiled) model; its unwrapped state dict is saved.
        model_config: plain dict that rebuilds the model.
        **fields: run state (optimizer, epoch, rng, train_config, seed, device, train_seconds...).
    """
    payload = {"format": FORMAT, "kind": kind, "model_state": unwrap(model).state_dict(),
               "model_config": plain(model_config), "code_version": code_version(),
               "library_versions": {k: str(v) for k, v in library_versions().items()},
               **fields}
    write_atomic(path, lambda tmp: torch.save(payload, tmp))
    log.info("checkpoint %s written (%s)", path,
             ", ".join(f"{k}={fields[k]}" for k in ("epoch", "iteration") if k in fields))


def read_checkpoint(path: str | os.PathLike, kind: str) -> dict[str, Any]:
    """Load a checkpoint's payload on the CPU and check its kind.

    Raises:
        CheckpointError: missing or unreadable file, or a checkpoint of another kind.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found; train the model first")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for corrupt files
        raise CheckpointError(f"{path}: unreadable checkpoint ({err}); delete it and retrain") from err
    if not isinstance(payload, dict) or payload.get("kind") != kind:
        found = payload.get("kind") if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(f"{path}: expected a {kind!r} checkpoint, found {found!r}")
    return payload


def check_config(path: str | os.PathLike, what: str, saved: dict[str, Any],
                 expected: dict[str, Any], ignore: frozenset[str] = frozenset()) -> None:
    """Refuse a checkpoint written for another configuration.

    Raises:
        CheckpointError: naming the file and every differing key with both values.
    """
    saved, expected = plain(saved), plain(expected)
    keys = sorted((set(saved) | set(expected)) - ignore)
    diffs = [f"{k}: checkpoint {saved.get(k)!r} != requested {expected.get(k)!r}"
             for k in keys if saved.get(k) != expected.get(k)]
    if diffs:
        raise CheckpointError(f"{path}: {what} differs from the checkpoint's ({'; '.join(diffs)});"
                              " delete the checkpoint or use the matching config")


def load_model(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> nn.Module:
    """Rebuild a trained model from its checkpoint file alone, in eval mode.

    Raises:
        CheckpointError: unreadable file or weights that do not fit the saved config.
    """
    return rebuild_model(read_checkpoint(path, "amoc-model"), str(path)).to(map_location)


class Resumable(Protocol):
    """A training state that checkpoints itself (``Run``, ``Pretrain``)."""

    def save(self, path: Path, **extra: object) -> None: ...

    def resume(self, path: Path) -> None: ...


def train_resumably(state: Resumable, out: str | os.PathLike, train: Callable[[Path], None], *,
                    start: Callable[[], None] | None = None,
                    finish: Callable[[], dict[str, Any]] | None = None) -> None:
    """partial -> resume -> train -> save -> unlink, the same for training and pre-training.

    A killed job leaves ``<out>.partial``; the next run resumes from it exactly instead of
    starting over (``start`` runs only on a fresh start). ``train`` gets the partial path to
    checkpoint to; ``finish`` returns extra fields for the final checkpoint.
    """
    out = Path(out)
    partial = out.with_name(out.name + ".partial")
    if partial.is_file():
        state.resume(partial)
    elif start is not None:
        start()
    train(partial)
    state.save(out, **(finish() if finish else {}))
    partial.unlink(missing_ok=True)
