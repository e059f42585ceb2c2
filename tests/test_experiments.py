"""The experiment matrix is data: validation of bad values and expansion into de-duplicated jobs."""

from __future__ import annotations

import copy

import pytest
import yaml
from snakemake.utils import update_config

from amoc.errors import ConfigError
from amoc.experiments import (
    expand_variants,
    load_config,
    plan,
    pretrain_persons,
    pretrain_source,
    validate_config,
)
from tests.conftest import REPO_ROOT

DEFAULT = REPO_ROOT / "config" / "config.yaml"
PAPER = REPO_ROOT / "config" / "paper.yaml"


@pytest.fixture()
def config() -> dict:
    return load_config(DEFAULT)


def paper_config() -> dict:
    merged = yaml.safe_load(DEFAULT.read_text())
    update_config(merged, yaml.safe_load(PAPER.read_text()))
    validate_config(merged, source=str(PAPER))
    return merged


def test_table2_grid_expands_to_21_named_cells_in_the_paper_preset():
    config = paper_config()
    variants = expand_variants(config["experiments"]["table2"], config)
    assert len(variants) == 21
    assert variants["sum_tanh3"]["model"]["fusion"] == "sum"
    assert variants["sum_tanh3"]["model"]["fusion_layer"] == "tanh3"


def test_the_default_runs_the_nine_table2_cells_its_claims_compare(config):
    variants = expand_variants(config["experiments"]["table2"], config)
    claims = yaml.safe_load((REPO_ROOT / "amoc/report/paper_claims.yaml").read_text())["claims"]
    compared = {c["better"] for c in claims if c["experiment"] == "table2"}
    compared |= {w for c in claims if c["experiment"] == "table2" for w in c["worse"]}
    assert set(variants) == compared and len(variants) == 9
    assert variants["max_pool2"]["model"]["fusion"] == "max"


def test_a_grid_cell_that_is_not_in_the_grid_is_refused(config):
    bad = copy.deepcopy(config)
    bad["experiments"]["table2"]["grid"]["cells"] = ["concat_pool2", "concat_pool9"]
    with pytest.raises(ConfigError, match=r"experiments/table2.*concat_pool9"):
        validate_config(bad)


def test_identical_settings_share_one_trained_model(config):
    p = plan(config)
    cells = {(m.experiment, m.variant): m.train_hash for m in p.members}
    assert cells[("table2", "concat_pool2")] == cells[("fig6c", "margin_2")]
    assert cells[("table1", "amoc_e2e_epic")] == cells[("table3", "amoc_e2e_epic")]
    assert cells[("table1", "amoc_e2e_lk")] != cells[("table1", "amoc_e2e_epic")]
    assert len(p.train_jobs) < len(p.members)


def test_no_motion_variant_ignores_the_flow_setting(config):
    variants = expand_variants(config["experiments"]["table1"], config)
    assert variants["amoc_nomotion"]["flow"] is None
    assert variants["baseline_lk"]["flow"] == "lk"


def test_fig6a_evaluates_one_model_at_many_lengths_without_retraining(config):
    p = plan(config)
    fig = next(m for m in p.members if m.experiment == "fig6a" and m.variant == "amoc_e2e_epic")
    tab = next(m for m in p.members if m.experiment == "table1" and m.variant == "amoc_e2e_epic")
    assert fig.train_hash == tab.train_hash and fig.eval_hash != tab.eval_hash
    assert p.eval_jobs[(fig.train_hash, fig.eval_hash)].eval["test_lengths"][-1] == 128


@pytest.mark.parametrize(
    ("path", "value", "needle"),
    [
        (("train", "epochs"), -1, "train/epochs"),
        (("model", "fusion_layer"), "conv9", "model/fusion_layer"),
        (("train", "margin"), 0, "train/margin"),
        (("model", "pooling"), "median", "model/pooling"),
        (("eval", "test_lengths"), [], "eval/test_lengths"),
        (("unknown_key",), 1, "unknown_key"),
    ],
)
def test_values_outside_the_schema_are_refused_with_the_key(config, path, value, needle):
    bad = copy.deepcopy(config)
    target = bad
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ConfigError, match="unknown_key" if needle == "unknown_key" else needle):
        validate_config(bad)


def test_more_splits_than_the_dataset_has_is_refused(config):
    bad = copy.deepcopy(config)
    bad["experiments"]["table1"]["splits"] = 5
    with pytest.raises(ConfigError, match="n_splits = 2"):
        validate_config(bad)


def test_unknown_flow_method_and_dataset_are_refused(config):
    bad = copy.deepcopy(config)
    bad["experiments"]["table1"]["variants"]["x"] = {"model": {"variant": "rcn"}, "flow": "raft"}
    with pytest.raises(ConfigError, match="raft"):
        validate_config(bad)
    bad = copy.deepcopy(config)
    bad["experiments"]["table1"]["datasets"] = ["viper"]
    with pytest.raises(ConfigError, match="viper"):
        validate_config(bad)


def test_paper_preset_builds_the_full_matrix():
    p = plan(paper_config())
    datasets = {j.dataset for j in p.train_jobs.values()}
    assert datasets == {"ilidsvid", "prid2011", "mars"}
    table2 = [m for m in p.members if m.experiment == "table2"]
    assert len(table2) == 21 * 2 and all(m.splits == 10 for m in table2)
    for m in table2 + [m for m in p.members if m.experiment in ("fig6b", "fig6c", "fig6d")]:
        job = p.train_jobs[m.train_hash]
        assert job.model["variant"] == "amoc" and job.train["epochs"] == 1000
    margins = {p.train_jobs[m.train_hash].train["margin"] for m in p.members
               if m.experiment == "fig6c"}
    assert margins == set(range(1, 11))
    mars = [j for j in p.train_jobs.values() if j.dataset == "mars"]
    assert mars and all(j.train["epochs"] == 2000 for j in mars)


def test_pretraining_keeps_test_persons_out_by_default(config):
    assert pretrain_source(config, "synthwalk")["persons"] == "train"
    assert [pretrain_persons(config, "synthwalk", k) for k in (0, 1)] == ["split0", "split1"]
    paper = paper_config()  # PRID-2011 and MARS reuse iLIDS-VID's split-0 motion net
    assert pretrain_persons(paper, "prid2011", 3) == pretrain_persons(paper, "mars", 0) == "split0"
    assert pretrain_persons(paper, "ilidsvid", 3) == "split3"


def test_pretraining_on_all_persons_is_another_model(config):
    everyone = copy.deepcopy(config)
    everyone["pretrain"]["persons"] = "all"
    assert pretrain_persons(everyone, "synthwalk", 1) == "all"
    e2e = {(m.experiment, m.variant): m.train_hash for m in plan(config).members}
    e2e_all = {(m.experiment, m.variant): m.train_hash for m in plan(everyone).members}
    assert e2e[("table1", "amoc_e2e_epic")] != e2e_all[("table1", "amoc_e2e_epic")]
    assert e2e[("table1", "baseline_lk")] == e2e_all[("table1", "baseline_lk")]
