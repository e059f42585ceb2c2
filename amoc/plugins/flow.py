"""Flow-method plug-ins: a user's function registered under its config name, with its output
checked on every pair (docs/plugins.md)."""

from __future__ import annotations

import functools

import numpy as np

from amoc.errors import ConfigError
from amoc.flow.methods import FLOW_METHODS
from amoc.plugins import load_object, source_fingerprint


def checked_flow(frame0: np.ndarray, frame1: np.ndarray, *, plugin: str,
                 source_sha256: str | None) -> np.ndarray:
    """Call the plug-in and refuse anything but a finite float (H, W, 2) flow.

    ``source_sha256`` is not used here: bound as a keyword, it lands in the store's meta.json
    and resume key, so a store computed by an edited file is never resumed.
    """
    try:
        flow = load_object(plugin, "flow method")(frame0, frame1)
    except TypeError as err:  # a callable of another signature (e.g. os:getcwd)
        raise ConfigError(f"flow method {plugin!r} cannot be called as fn(frame0, frame1) -> "
                          f"flow (docs/plugins.md): {err}") from err
    expected = (*frame0.shape[:2], 2)
    if not isinstance(flow, np.ndarray) or flow.shape != expected:
        got = flow.shape if isinstance(flow, np.ndarray) else type(flow).__name__
        raise ConfigError(f"flow method {plugin!r} breaks the flow contract (docs/plugins.md): "
                          f"it must return a numpy array of shape {expected} (u, v), got {got}")
    if not np.issubdtype(flow.dtype, np.floating):
        raise ConfigError(f"flow method {plugin!r}: flow must be floating point, got {flow.dtype}")
    return flow


def register_flow_plugin(name: str, path: str) -> None:
    """Make ``name`` a method of ``FLOW_METHODS`` that calls ``path`` ("pkg.module:function")."""
    sha = source_fingerprint(path)["source_sha256"]
    FLOW_METHODS[name] = functools.partial(checked_flow, plugin=path, source_sha256=sha)
