"""What a run trained, in words, for captions and figure titles ("AMOC + offline EpicFlow,
1 epoch, 1 split x 1 seed"): the paper's captions describe the paper's models, which a quick run
(a 1-epoch sweep, an offline-flow stand-in) does not train."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

FLOW_NAMES = {"lk": "Lucas-Kanade", "epic": "EpicFlow", "farneback": "Farneback", "dis": "DIS"}
MAX_MODELS = 3  # more distinct models than this are summarised by their count


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def describe_model(model: Mapping[str, Any], flow: str | None) -> str:
    """One model in words: "end-to-end AMOC (EpicFlow-pre-trained)", "plug-in pkg.mod:Net"."""
    flow_name = FLOW_NAMES.get(flow or "", flow)
    if "class" in model:
        return f"plug-in {model['class']}" + (f" + offline {flow_name}" if flow else "")
    variant = model.get("variant", "amoc")
    if variant == "amoc":
        return "end-to-end AMOC" + (f" (motion net pre-trained on {flow_name})" if flow else "")
    if variant == "amoc_offline":
        return f"AMOC + offline {flow_name}"
    if variant == "amoc_nomotion":
        return "AMOC w/o motion"
    if variant == "rcn":
        return f"RCN baseline + offline {flow_name}"
    return variant


def describe_run(cells: Iterable[tuple[Mapping[str, Any], str | None, Mapping[str, Any], int,
                                       int]]) -> str:
    """The cells of one experiment, each (model, flow, train config, splits, seeds), in words.

    Returns "" for no cells (an experiment without datasets).
    """
    models, budgets = {}, {}
    for model, flow, train, splits, seeds in cells:
        models[describe_model(model, flow)] = None
        epochs = train.get("epochs", "?")
        budgets[f"{_plural(epochs, 'epoch') if isinstance(epochs, int) else epochs}, "
                f"{_plural(splits, 'split')} x {_plural(seeds, 'seed')}"] = None
    if not models:
        return ""
    what = (", ".join(models) if len(models) <= MAX_MODELS
            else f"{len(models)} different models (one per row)")
    return f"{what}; {' or '.join(budgets)}"
