"""One source of truth: config.schema.yaml (checked by `snakemake -n`) says what the jobs accept."""

from __future__ import annotations

import copy
from dataclasses import dataclass, fields

import pytest

from amoc import experiments
from amoc.config import TrainConfig, rule_field, schema_of
from amoc.errors import ConfigError
from amoc.experiments import (
    DERIVED,
    SECTIONS,
    WORKFLOW_ONLY,
    load_config,
    load_schema,
    plan,
    validate_config,
)
from tests.conftest import REPO_ROOT

DOC_KEYS = {"description", "default"}


def _schema_section(name: str) -> dict:
    schema = load_schema()
    return schema["$defs"][name]["properties"]


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_schema_and_dataclass_agree_on_every_key_type_and_bounds(section):
    props = {k: v for k, v in _schema_section(section).items()
             if k not in WORKFLOW_ONLY.get(section, ())}
    rules = {k: v for k, v in schema_of(SECTIONS[section]).items()
             if k not in DERIVED.get(section, ())}
    assert sorted(props) == sorted(rules), f"{section}: keys differ"
    for key, rule in rules.items():
        stated = {k: v for k, v in props[key].items() if k not in DOC_KEYS}
        assert stated == rule, f"{section}.{key}: schema {stated} != dataclass {rule}"


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_schema_defaults_are_the_dataclass_defaults(section):
    defaults = {f.name: f.default for f in fields(SECTIONS[section])}
    for key, prop in _schema_section(section).items():
        if "default" in prop and key not in WORKFLOW_ONLY.get(section, ()):
            default = defaults[key]
            assert prop["default"] == (list(default) if isinstance(default, tuple) else default)


@pytest.fixture()
def config() -> dict:
    return load_config(REPO_ROOT / "config" / "config.yaml")


@pytest.mark.parametrize(("path", "value", "accepted"), [
    (("train", "translate"), 0.4, False),   # the schema once allowed 0.5, the job 0.25
    (("train", "momentum"), 0.9999, True),  # the job once refused above 0.999
    (("train", "grad_clip"), 0, True),      # 0 = no clamping; the schema once refused it
    (("train", "epochs"), 3.0, False),      # JSON schema's "integer" takes 3.0; the job does not
    (("train", "pairs_per_epoch"), 300, True),
    (("model", "spatial_stride"), 3, False),
    (("model", "colour"), "yuv", True),
    (("pretrain", "heldout_tracklets"), 0, False),
])
def test_what_the_dry_run_accepts_the_job_accepts(config, path, value, accepted):
    section, key = path
    cfg = copy.deepcopy(config)
    cfg[section][key] = value
    job_values = {k: v for k, v in cfg[section].items()
                  if k not in WORKFLOW_ONLY.get(section, ())}
    extra = {"num_classes": 2} if section == "model" else {}
    try:
        SECTIONS[section].from_dict({**job_values, **extra})
        job_ok = True
    except ConfigError:
        job_ok = False
    try:
        validate_config(cfg)
        plan(cfg)
        dry_run_ok = True
    except ConfigError as err:
        assert f"{section}" in str(err) and key in str(err)
        dry_run_ok = False
    assert job_ok == dry_run_ok == accepted


def test_a_bad_value_in_one_variant_names_the_experiment_and_key(config):
    cfg = copy.deepcopy(config)
    cfg["experiments"]["table1"]["variants"]["baseline_lk"]["train"] = {"epochs": 3.0}
    with pytest.raises(ConfigError, match="table1 variant 'baseline_lk'.*TrainConfig.epochs"):
        validate_config(cfg)


def _rule_of(cls: type, name: str):
    """The validation rule of one dataclass field."""
    return next(f.metadata["rule"] for f in fields(cls) if f.name == name)


def _hashes(cfg: dict) -> tuple[dict, dict]:
    p = plan(cfg)
    return ({(m.experiment, m.variant): m.train_hash for m in p.members},
            {(m.experiment, m.variant): m.eval_hash for m in p.members})


def test_hashes_cover_resolved_values_not_the_yaml_as_written(config):
    explicit = copy.deepcopy(config)
    explicit["train"]["grad_clip"] = 5.0  # TrainConfig's default, now written out
    explicit["eval"]["batch_size"] = 32  # EvalConfig's default
    assert _hashes(explicit) == _hashes(config)


def test_a_changed_default_moves_exactly_the_jobs_that_use_it(config, monkeypatch):
    before_train, before_eval = _hashes(config)
    pinned = copy.deepcopy(config)
    pinned["experiments"]["table1"]["variants"]["baseline_lk"]["train"] = {"grad_clip": 5.0}

    @dataclass(frozen=True)
    class NewDefault(TrainConfig):
        grad_clip: float = rule_field(1.0, _rule_of(TrainConfig, "grad_clip"))

    monkeypatch.setitem(experiments.SECTIONS, "train", NewDefault)
    after_train, after_eval = _hashes(config)
    pinned_train, _ = _hashes(pinned)
    assert after_eval == before_eval  # evaluation settings did not change
    assert all(after_train[c] != before_train[c] for c in before_train)
    assert pinned_train[("table1", "baseline_lk")] == before_train[("table1", "baseline_lk")]
