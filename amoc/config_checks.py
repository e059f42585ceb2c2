"""Cross-file config checks run while the DAG is built: names the report looks up, and inputs
each variant needs.

A typo in a paper variant's name (``amoc_e2e_epik``) used to run to the end: Table I's row
empty, an unlabelled extra row, half the claims "not run". ``flow: null`` on a variant that reads
flow failed inside a job or with a TypeError; duplicate datasets failed in ``collect``.
"""

from __future__ import annotations

import difflib
from functools import cache
from importlib import resources

import yaml

from amoc.errors import ConfigError
from amoc.plugins import model_spec
from amoc.report.reference import load_reference

MAX_TYPO_DISTANCE = 2  # edits that turn a configured name into a paper name it was meant to be


@cache
def paper_names() -> dict[str, frozenset[str]]:
    """Variant names the report looks up, per experiment: claims (paper_claims.yaml) plus the
    paper's rows of the table of that name (paper_reference.yaml)."""
    text = resources.files("amoc.report").joinpath("paper_claims.yaml").read_text()
    names: dict[str, set[str]] = {}
    for claim in yaml.safe_load(text)["claims"]:
        for side in ("better", "worse"):
            value = claim[side]
            names.setdefault(claim["experiment"], set()).update(
                value if isinstance(value, list) else [value])
    for table, spec in load_reference()["tables"].items():
        names.setdefault(table, set()).update(spec.get("rows", {}))
    return {exp: frozenset(v) for exp, v in names.items()}


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _typo_of(name: str, configured: set[str], known: frozenset[str]) -> str | None:
    """The paper name `name` looks like a typo of: close to it, and not configured itself."""
    if name in known:
        return None
    missing = sorted(n for n in known - configured
                     if edit_distance(name, n) <= MAX_TYPO_DISTANCE)
    if not missing:
        return None
    return difflib.get_close_matches(name, missing, n=1, cutoff=0)[0]


def _check_names(exp_name: str, exp: dict, source: str) -> None:
    """Refuse an explicitly named variant that is a near miss of a paper name the report needs
    (grid cells are named from their values, so they cannot be typos)."""
    known = paper_names().get(exp.get("kind", exp_name), frozenset())
    configured = set(exp.get("variants", {}))
    for variant in sorted(configured):
        closest = _typo_of(variant, configured, known)
        if closest is not None:
            raise ConfigError(
                f"{source}: experiments/{exp_name}/variants/{variant}: not a name the tables and "
                f"claims know; did you mean {closest!r}? (rename it to {closest!r} if it is the "
                "paper's variant, or to a name further from it if it is your own)")


def _check_experiment_name(exp_name: str, config: dict, source: str) -> None:
    known = frozenset(paper_names())
    closest = _typo_of(exp_name, set(config["experiments"]), known)
    if closest is not None:
        raise ConfigError(f"{source}: experiments/{exp_name}: not an experiment the tables and "
                          f"claims know; did you mean {closest!r}?")


def _check_flow(exp_name: str, variants: dict[str, dict], source: str) -> None:
    """A variant that reads offline flow or pre-trains a motion net needs a flow method
    (`variants` resolved by ``expand_variants``, which keeps `flow` only where it is used)."""
    for variant, spec in variants.items():
        if spec.get("flow") is None and model_spec(spec["model"]).uses_flow:
            raise ConfigError(
                f"{source}: experiments/{exp_name}/variants/{variant}: 'flow' is null but this "
                f"model ({spec['model'].get('variant') or spec['model'].get('class')}) needs a "
                "flow method (offline flow, or the motion net's pre-training target); set "
                "'flow' to one of flow_methods")


def _check_datasets(exp_name: str, exp: dict, source: str) -> None:
    seen: set[str] = set()
    for ds in exp.get("datasets", []):
        if ds in seen:
            raise ConfigError(f"{source}: experiments/{exp_name}/datasets lists {ds!r} twice; "
                              "list each dataset once")
        seen.add(ds)


def check_config_references(config: dict, source: str) -> None:
    """Refuse, at DAG build, what would otherwise surface as an empty row or a failed job.

    Checks every experiment for: a variant or experiment name one or two edits from a paper
    name that is not configured (the report looks names up exactly), ``flow: null`` on a
    variant that needs flow, and a dataset listed twice. A preset that simply does not run a
    paper variant is fine (its claims read "not run").

    Raises:
        ConfigError: naming the experiment, the variant and the key, with the closest valid name.
    """
    from amoc.experiments import expand_variants  # amoc.experiments calls this module

    for exp_name, exp in config.get("experiments", {}).items():
        _check_experiment_name(exp_name, config, source)
        _check_datasets(exp_name, exp, source)
        _check_names(exp_name, exp, source)
        _check_flow(exp_name, expand_variants(exp, config), source)

