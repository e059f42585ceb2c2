"""Opening what a run reads (frame cache, split, flow store) and choosing its device, with checks.

Shared by the train, pre-train and evaluate commands so they fail the same way on bad inputs.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from amoc.data.cache import FrameCache
from amoc.errors import ConfigError, DatasetError
from amoc.flow.layout import FlowStore, index_fingerprint
from amoc.plugins import model_spec

log = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    """"auto" -> CUDA if available else CPU; "cuda" without a GPU is a ConfigError."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' requested but no CUDA GPU is visible; use 'auto' or 'cpu'")
    return torch.device(name)


def parse_json_arg(text: str, flag: str) -> dict[str, Any]:
    """A JSON object given on the command line (``{}`` for all defaults)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{flag}: not valid JSON ({err}); pass an object such as '{{}}'") from err
    if not isinstance(value, dict):
        raise ConfigError(f"{flag}: expected a JSON object, got {type(value).__name__}")
    return value


def read_split(path: str | os.PathLike) -> dict[str, Any]:
    """Load a split file and check it has disjoint, non-empty integer train and test person lists.

    A hand-edited split whose test persons were also trained on would inflate every metric.
    """
    path = Path(path)
    try:
        split = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise DatasetError(f"{path}: unreadable split file ({err}); rerun amoc.data.splits") from err
    for key in ("train_pids", "test_pids"):
        if not isinstance(split.get(key), list) or not split[key]:
            raise DatasetError(f"{path}: '{key}' missing or empty; rerun amoc.data.splits")
        if not all(isinstance(p, int) and not isinstance(p, bool) for p in split[key]):
            raise DatasetError(f"{path}: '{key}' must hold integer person ids; rerun "
                               "amoc.data.splits")
    overlap = sorted(set(split["train_pids"]) & set(split["test_pids"]))
    if overlap:
        raise DatasetError(f"{path}: {len(overlap)} person(s) are both training and test persons "
                           f"(e.g. {overlap[:5]}); delete the file and rerun amoc.data.splits")
    return split


def needs_offline_flow(model_config: dict[str, Any]) -> bool:
    """Whether the model reads the offline flow store (``rcn``, ``amoc_offline``, a plug-in
    with ``takes_flow``)."""
    return model_spec(model_config).reads_offline_flow


def open_flow(cache: FrameCache, flow_dir: str | os.PathLike | None,
              required: bool) -> np.ndarray | None:
    """The flow store's memmap aligned with ``cache``, or None when the model needs no flow.

    Raises:
        ConfigError: flow required but no directory given.
        DatasetError: the store was computed for another frame cache.
    """
    if not required:
        if flow_dir is not None:
            log.info("variant takes no offline flow; ignoring --flow-store %s", flow_dir)
        return None
    if flow_dir is None:
        raise ConfigError("this model variant needs offline flow: pass --flow-store DIR")
    # One chunked pass (bounded memory): a hand-edited or corrupted store must not train a NaN
    # model or produce metrics silently (the builder already refuses NaN it computes itself).
    store = FlowStore(flow_dir, check_finite=True)
    if store.meta.get("index_sha256") != index_fingerprint(cache.index):
        raise DatasetError(f"{flow_dir}: flow store was computed for another frame cache than "
                           f"{cache.dir}; recompute it with python -m amoc.flow.store")
    return store.flow
