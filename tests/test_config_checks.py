"""DAG-build checks across files: paper variant names, flow where a variant needs it,
duplicate datasets (amoc.config_checks)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.utils import update_config

from amoc.config_checks import check_config_references, edit_distance, paper_names
from amoc.errors import ConfigError
from amoc.experiments import load_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def default() -> dict:
    return load_config(ROOT / "config" / "config.yaml")


def _preset(default: dict, name: str) -> dict:
    config = copy.deepcopy(default)
    update_config(config, yaml.safe_load((ROOT / "config" / name).read_text()))
    return config


@pytest.mark.parametrize("preset", ["config.yaml", "paper.yaml", "synthwalk-study.yaml"])
def test_shipped_presets_pass(default: dict, preset: str) -> None:
    check_config_references(_preset(default, preset), preset)


def test_paper_names_come_from_claims_and_reference_rows() -> None:
    names = paper_names()
    assert {"amoc_e2e_epic", "amoc_nomotion", "baseline_lk"} <= names["table1"]
    assert {"margin_2", "margin_10"} <= names["fig6c"]


def test_edit_distance() -> None:
    assert edit_distance("amoc_e2e_epik", "amoc_e2e_epic") == 1
    assert edit_distance("", "abc") == 3 and edit_distance("abc", "abc") == 0


def test_variant_name_typo_is_refused_naming_the_closest(default: dict) -> None:
    config = copy.deepcopy(default)
    variants = config["experiments"]["table1"]["variants"]
    variants["amoc_e2e_epik"] = variants.pop("amoc_e2e_epic")
    with pytest.raises(ConfigError, match=r"experiments/table1/variants/amoc_e2e_epik: .*did you "
                                          r"mean 'amoc_e2e_epic'"):
        check_config_references(config, "cfg")


def test_a_paper_variant_not_run_or_an_own_name_is_fine(default: dict) -> None:
    config = copy.deepcopy(default)
    variants = config["experiments"]["table1"]["variants"]
    del variants["amoc_e2e_lk"]  # not run: its claims read "not run"
    variants["my_variant"] = {"model": {"variant": "amoc_nomotion"}}
    variants["amoc_e2e_dis"] = {"model": {"variant": "amoc"}, "flow": "lk"}  # 3 edits away
    check_config_references(config, "cfg")


def test_experiment_name_typo_is_refused(default: dict) -> None:
    config = copy.deepcopy(default)
    config["experiments"]["tabel1"] = config["experiments"].pop("table1")
    with pytest.raises(ConfigError, match=r"experiments/tabel1: .*did you mean 'table1'"):
        check_config_references(config, "cfg")


@pytest.mark.parametrize("variant", ["amoc_e2e_epic", "amoc_offline_lk", "baseline_epic"])
def test_null_flow_on_a_variant_that_needs_flow_is_refused(default: dict, variant: str) -> None:
    config = copy.deepcopy(default)
    config["experiments"]["table1"]["variants"][variant]["flow"] = None
    with pytest.raises(ConfigError, match=rf"experiments/table1/variants/{variant}: 'flow' is "
                                          r"null but this model"):
        check_config_references(config, "cfg")


def test_null_flow_is_fine_without_motion(default: dict) -> None:
    config = copy.deepcopy(default)
    config["experiments"]["table1"]["variants"]["amoc_nomotion"]["flow"] = None
    check_config_references(config, "cfg")


def test_duplicate_datasets_are_refused(default: dict) -> None:
    config = copy.deepcopy(default)
    config["experiments"]["table1"]["datasets"] = ["synthwalk", "synthwalk"]
    with pytest.raises(ConfigError, match="experiments/table1/datasets lists 'synthwalk' twice"):
        check_config_references(config, "cfg")
