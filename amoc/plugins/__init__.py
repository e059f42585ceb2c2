"""Plug-ins named in the config: a model factory or a flow function given as "pkg.module:attr".

Torch-free (the workflow resolves plug-ins while it builds the DAG): import and check the
attribute, tell the workflow which inputs a plug-in model reads, and fingerprint its source so
that the train hash changes when the file does. The contract is in docs/plugins.md; building a
plug-in model and checking its outputs is ``amoc.plugins.model``.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from amoc.errors import ConfigError
from amoc.variants import VARIANTS, VariantSpec

PATH_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


@contextmanager
def _working_tree_importable() -> Iterator[None]:
    """Let an import see the working directory (the user's tree) after PYTHONPATH."""
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.append(cwd)
    try:
        yield
    finally:
        if added:
            sys.path.remove(cwd)


def load_object(path: str, what: str) -> Any:
    """The object named by "pkg.module:attr" (attr may be dotted), imported from PYTHONPATH or cwd.

    Args:
        path: import path.
        what: what the object is for, used in error messages ("model class", "flow method x").

    Raises:
        ConfigError: a malformed path, a module that does not import, or a missing attribute.
    """
    if not isinstance(path, str) or not PATH_RE.match(path):
        raise ConfigError(f"{what} {path!r}: expected 'pkg.module:Name' (module path, a colon, "
                          "then the attribute)")
    module_name, attr = path.split(":")
    try:
        with _working_tree_importable():
            obj = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigError(f"{what} {path!r}: cannot import module {module_name!r} ({err}); put "
                          "it in the working directory or on PYTHONPATH") from err
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"{what} {path!r}: module {module_name!r} has no attribute "
                              f"{attr!r}; check the name after the colon")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ConfigError(f"{what} {path!r}: {attr!r} is a {type(obj).__name__}, not callable")
    return obj


def is_plugin(model: Mapping[str, Any]) -> bool:
    """A model config naming a plug-in factory rather than an AMOC variant."""
    return "class" in model


@cache
def _plugin_spec(path: str) -> VariantSpec:
    takes_flow = getattr(load_object(path, "model class"), "takes_flow", False)
    if not isinstance(takes_flow, bool):
        raise ConfigError(f"model class {path!r}: takes_flow must be True or False, "
                          f"got {takes_flow!r}")
    # spatial_stride and colour describe AMOC's own networks; a plug-in reads the raw RGB frames
    # (docs/plugins.md) and builds its own layers, so these are informational only.
    return VariantSpec(flow_source="offline" if takes_flow else "none", two_stream=False,
                       spatial_stride=1, colour="rgb")


def model_spec(model: Mapping[str, Any]) -> VariantSpec:
    """Which inputs a model reads: the AMOC variant's entry, or the plug-in's ``takes_flow``.

    Imports a plug-in (once per process), so a bad path fails while the DAG is built.
    """
    return _plugin_spec(model["class"]) if is_plugin(model) else VARIANTS[model["variant"]]


@cache
def source_fingerprint(path: str) -> dict[str, str | None]:
    """What the train hash records of a plug-in: its import path and, for a module file in the
    working directory, the SHA-256 of that file (installed packages are covered by path only)."""
    load_object(path, "plug-in")
    module = sys.modules[path.split(":")[0]]
    file = Path(getattr(module, "__file__", "") or "").resolve()
    inside = file.is_file() and file.is_relative_to(Path.cwd().resolve())
    digest = hashlib.sha256(file.read_bytes()).hexdigest() if inside else None
    return {"class": path, "source_sha256": digest}


def parse_flow_methods(entries: list[str]) -> dict[str, str | None]:
    """``flow_methods`` entries -> {name: import path, or None for a built-in method}.

    A plug-in entry is "name=pkg.module:function"; a bare name is a built-in of
    ``amoc.flow.methods.FLOW_METHODS``.
    """
    methods: dict[str, str | None] = {}
    for entry in entries:
        name, _, path = entry.partition("=")
        if not re.fullmatch(r"[a-z0-9_]+", name):
            raise ConfigError(f"flow_methods entry {entry!r}: the name must be lower-case "
                              "letters, digits and '_' (it names results/flow/<dataset>/<name>)")
        if name in methods:
            raise ConfigError(f"flow_methods: {name!r} is listed twice")
        methods[name] = path or None
    return methods
