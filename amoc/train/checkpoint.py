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

from amoc.atomic import move_checksummed, write_atomic
from amoc.errors import CheckpointError
from amoc.integrity import checksum_path, verify_checksum
from amoc.joblock import job_lock
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


def _tensor_bytes(obj: Any) -> int:
    """Bytes of every tensor in a nested payload: about what the checkpoint file needs."""
    if isinstance(obj, torch.Tensor):
        return obj.nelement() * obj.element_size()
    if isinstance(obj, dict):
        return sum(_tensor_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_tensor_bytes(v) for v in obj)
    return 0


def save_checkpoint(path: str | os.PathLike, *, kind: str, model: nn.Module,
                    model_config: dict[str, Any], **fields: Any) -> None:
    """Write a checkpoint atomically, then its checksum (``<path>.sha256``).

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
    write_atomic(path, lambda tmp: torch.save(payload, tmp), checksum=True,
                 needed=_tensor_bytes(payload))
    log.info("checkpoint %s written (%s)", path,
             ", ".join(f"{k}={fields[k]}" for k in ("epoch", "iteration") if k in fields))


def read_checkpoint(path: str | os.PathLike, kind: str) -> dict[str, Any]:
    """Verify a checkpoint's checksum, load its payload on the CPU and check its kind.

    torch does not check the zip CRCs, so without the checksum flipped bytes in the tensor data
    would load as other weights.

    Raises:
        CheckpointError: missing, corrupt or unreadable file, or a checkpoint of another kind.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found; train the model first")
    verify_checksum(path, "checkpoint", CheckpointError)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for corrupt files
        raise CheckpointError(f"{path}: unreadable checkpoint ({err}); delete it and retrain") from err
    if not isinstance(payload, dict) or payload.get("kind") != kind:
        found = payload.get("kind") if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(f"{path}: expected a {kind!r} checkpoint, found {found!r}")
    return payload


class StaleCheckpointError(CheckpointError):
    """A checkpoint written for another configuration (a partial one is set aside, not used)."""


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
        raise StaleCheckpointError(f"{path}: {what} differs from the checkpoint's ({'; '.join(diffs)});"
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


def partial_path(out: str | os.PathLike) -> Path:
    """Where a job writing `out` keeps its resumable state."""
    out = Path(out)
    return out.with_name(out.name + ".partial")


def _resume_or_set_aside(state: Resumable, partial: Path) -> bool:
    """Resume from `partial`; one written for another configuration is renamed
    ``<partial>.stale-<digest>`` (one without a checksum ``<partial>.unverified``) with a
    warning: never resumed, never deleted. Returns whether it resumed."""
    if not checksum_path(partial).is_file():  # killed between its rename and its checksum
        aside = partial.with_name(f"{partial.name}.unverified")
        os.replace(partial, aside)
        log.warning("set aside %s as %s and starting afresh: it has no checksum", partial,
                    aside.name)
        return False
    try:
        state.resume(partial)
        return True
    except StaleCheckpointError as err:
        digest = checksum_path(partial).read_text(encoding="ascii").strip()[:12]
        aside = partial.with_name(f"{partial.name}.stale-{digest}")
        move_checksummed(partial, aside)
        log.warning("set aside %s as %s and starting afresh: %s", partial, aside.name, err)
        return False


def train_resumably(state: Resumable, out: str | os.PathLike, train: Callable[[Path], None], *,
                    start: Callable[[], None] | None = None,
                    finish: Callable[[], dict[str, Any]] | None = None,
                    write_outputs: Callable[[], None] | None = None) -> None:
    """lock -> partial -> resume -> train -> save -> other outputs -> rename, for training and
    pre-training.

    A killed job leaves ``<out>.partial``; the next run resumes from it exactly instead of
    starting over (``start`` runs only on a fresh start); a partial written for another
    configuration is set aside. ``train`` gets the partial path to checkpoint to; ``finish``
    returns extra fields for the final checkpoint. The finished state goes to the partial first,
    then ``write_outputs`` writes the job's other outputs (curves JSON), and only then is the
    partial renamed onto ``out``: a failure in between (a full disk) leaves the finished state to
    resume from, and ``out`` never exists without the other outputs. ``<out>.lock`` stops a
    second copy of the job.
    """
    out = Path(out)
    partial = partial_path(out)
    with job_lock(out):
        if not partial.exists():  # a kill between a rename and its sidecar's removal
            checksum_path(partial).unlink(missing_ok=True)
        if not (partial.is_file() and _resume_or_set_aside(state, partial)) and start is not None:
            start()
        train(partial)
        state.save(partial, **(finish() if finish else {}))
        if write_outputs is not None:
            write_outputs()
        move_checksummed(partial, out)
