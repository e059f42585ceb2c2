"""The paper's reported numbers, loaded from the packaged `paper_reference.yaml` and checked.

Keeping them in one validated data file means no table or figure can hard-code (or mistype) a
number of the paper's; everything that shows "paper (reported)" goes through this module.
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from amoc.errors import ConfigError

REFERENCE_FILE = "paper_reference.yaml"
TABLES = ("table1", "table2", "table3", "table4")
ROW_KINDS = ("comparison", "ours")
TABLE1_ROWS = (
    "baseline_lk", "baseline_epic", "amoc_nomotion", "amoc_offline_lk",
    "amoc_offline_epic", "amoc_e2e_lk", "amoc_e2e_epic",
)
FUSIONS = ("sum", "max", "concat")
LAYERS = ("tanh1", "pool1", "tanh2", "pool2", "tanh3", "pool3", "fc")
DATASET_LABELS = {
    "ilidsvid": "iLIDS-VID", "prid2011": "PRID-2011", "mars": "MARS", "synthwalk": "synthwalk",
}


def dataset_label(dataset: str) -> str:
    """Display name of a dataset key (the key itself when unknown)."""
    return DATASET_LABELS.get(dataset, dataset)


@lru_cache(maxsize=1)
def load_reference() -> dict[str, Any]:
    """Read and validate the packaged reference file (cached: it never changes at run time)."""
    text = resources.files("amoc.report").joinpath(REFERENCE_FILE).read_text(encoding="utf-8")
    ref = yaml.safe_load(text)
    validate_reference(ref)
    return ref


def _fail(where: str, what: str) -> None:
    raise ConfigError(f"{REFERENCE_FILE}: {where}: {what}; fix the packaged reference file")


def _check_row(name: str, key: str, row: Any, table: dict[str, Any]) -> None:
    """One row: a label, a kind for comparison tables, and every metric as a percentage."""
    where = f"tables.{name}.rows.{key}"
    if not isinstance(row, dict) or not isinstance(row.get("label"), str):
        _fail(where, "needs a string 'label'")
    if name in ("table3", "table4") and row.get("kind") not in ROW_KINDS:
        _fail(where, f"'kind' must be one of {ROW_KINDS}")
    for dataset in table["datasets"]:
        values = row.get(dataset)
        if not isinstance(values, dict) or set(values) != set(table["metrics"]):
            _fail(f"{where}.{dataset}", f"needs exactly the metrics {table['metrics']}")
        for metric, value in values.items():
            if not isinstance(value, int | float) or not 0.0 <= value <= 100.0:
                _fail(f"{where}.{dataset}.{metric}", f"{value!r} is not a percentage")


def validate_reference(ref: Any) -> None:
    """Raise ConfigError naming the first key that breaks the expected structure."""
    if not isinstance(ref, dict) or "source" not in ref or "tables" not in ref:
        _fail("top level", "needs 'source' and 'tables'")
    for name in TABLES:
        table = ref["tables"].get(name)
        if not isinstance(table, dict) or not table.get("rows"):
            _fail(f"tables.{name}", "missing or has no rows")
        for field in ("paper_table", "caption", "datasets", "metrics"):
            if field not in table:
                _fail(f"tables.{name}", f"missing '{field}'")
        for key, row in table["rows"].items():
            _check_row(name, key, row, table)
    missing = [key for key in TABLE1_ROWS if key not in ref["tables"]["table1"]["rows"]]
    if missing:
        _fail("tables.table1.rows", f"missing rows {missing}")
    expected = {f"{fusion}_{layer}" for fusion in FUSIONS for layer in LAYERS}
    if set(ref["tables"]["table2"]["rows"]) != expected:
        _fail("tables.table2.rows", "must be exactly {fusion}_{layer} for all fusions and layers")


def reference_table(table: str) -> dict[str, Any]:
    """The reference entry of one table (`table1`..`table4`)."""
    ref = load_reference()
    if table not in ref["tables"]:
        raise ConfigError(f"unknown table {table!r}; valid tables: {', '.join(TABLES)}")
    return ref["tables"][table]


def paper_value(table: str, row: str, dataset: str, metric: str) -> float:
    """The paper's number in percent, or NaN where the paper reports none."""
    entry = reference_table(table)["rows"].get(row, {}).get(dataset, {})
    return float(entry.get(metric, math.nan))


def find_paper_row(variant: str, dataset: str) -> tuple[str, dict[str, float]] | None:
    """The first table (in paper order) reporting `variant` on `dataset`, with its numbers."""
    for name in TABLES:
        values = reference_table(name)["rows"].get(variant, {}).get(dataset)
        if values:
            return name, values
    return None


def source_label() -> str:
    """Short citation used in captions, e.g. 'Liu et al., TCSVT'."""
    return load_reference()["source"]["short"]


def paper_splits(dataset: str) -> int | None:
    """How many splits the paper averages over on `dataset` (None for non-paper datasets)."""
    return load_reference()["protocol"]["splits"].get(dataset)
