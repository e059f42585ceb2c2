"""The paper's experiment matrix, read from config: which models to train and evaluate, and where.

The workflow and the tests both use `plan(config)`, so the DAG is plain data that can be
inspected without Snakemake. Identical resolved settings share one trained model (keyed by a hash
of everything that changes training), so Table I's end-to-end AMOC, Table II's concat/pool2 cell
and Fig. 6's defaults are trained once per split.

One source of truth for values: every cell is resolved through the dataclasses its jobs build
(ModelConfig, TrainConfig, EvalConfig, PretrainConfig) when the DAG is built, so `snakemake -n`
refuses exactly what a job would refuse, and the hashes cover the defaults filled in: a changed
default in the code moves exactly the jobs that use it.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from amoc.config import EvalConfig, PretrainConfig, TrainConfig
from amoc.config_checks import check_config_references
from amoc.errors import ConfigError
from amoc.flow.truth import GROUND_TRUTH
from amoc.models.config import ModelConfig, canonical_fusion
from amoc.plugins import is_plugin, load_object, model_spec, parse_flow_methods, source_fingerprint
from amoc.provenance import config_hash

SCHEMA_FILE = "config.schema.yaml"  # package data: a link to config/config.schema.yaml
# The config section each job dataclass reads; its fields the workflow fills in (not in the
# section), and the section's keys that only the workflow reads (not for the job).
SECTIONS = {"model": ModelConfig, "train": TrainConfig, "eval": EvalConfig,
            "pretrain": PretrainConfig}
DERIVED = {"model": ("num_classes",), "train": ("seed",), "pretrain": ("seed",)}
WORKFLOW_ONLY = {"pretrain": ("dataset", "per_dataset", "persons")}
PRETRAIN_PERSONS = ("train", "all")  # the first is the default
ABLATIONS = "ablations"  # the experiment kind (and name) amoc/report/ablation_claims.yaml reads
# num_classes comes from the split when the job runs; any valid count checks the other keys.
PLACEHOLDER_CLASSES = 2


@dataclass(frozen=True, order=True)
class Training:
    """One training of a model: a split and a seed replicate (the unit of replication).

    Replicate r trains with seed = the config's seed + r. Its files are named ``split{k}``
    for r = 0 (so a one-seed run keeps its paths) and ``split{k}_rep{r}`` otherwise.
    """

    split: int
    replicate: int = 0

    @property
    def name(self) -> str:
        return f"split{self.split}" + (f"_rep{self.replicate}" if self.replicate else "")

    @classmethod
    def parse(cls, name: str) -> Training:
        """The inverse of ``name`` (the workflow's ``{training}`` wildcard)."""
        split, _, rep = name.removeprefix("split").partition("_rep")
        return cls(int(split), int(rep or 0))


TRAINING_PATTERN = r"split\d+(?:_rep[1-9]\d*)?"


@dataclass(frozen=True)
class TrainJob:
    """One model to train on each (split, seed replicate) of `dataset` its cells need."""

    dataset: str
    train_hash: str
    model: dict
    train: dict
    flow: str | None
    seed: int


@dataclass(frozen=True)
class EvalJob:
    """One evaluation setting of one trained model."""

    dataset: str
    train_hash: str
    eval_hash: str
    eval: dict


@dataclass(frozen=True)
class Member:
    """A (experiment, dataset, variant) cell and the trained/evaluated model that fills it."""

    experiment: str
    kind: str
    dataset: str
    variant: str
    train_hash: str
    eval_hash: str
    splits: int
    seeds: int = 1

    @property
    def trainings(self) -> list[Training]:
        """Every (split, replicate) this cell averages over: splits x seeds trainings."""
        return [Training(k, r) for k in range(self.splits) for r in range(self.seeds)]


@dataclass(frozen=True)
class Plan:
    """Everything the workflow must compute, de-duplicated."""

    train_jobs: dict[str, TrainJob]
    eval_jobs: dict[tuple[str, str], EvalJob]
    members: list[Member]


def load_schema() -> dict:
    """The JSON schema, read from the installed package (the Snakefile validates with it too)."""
    return yaml.safe_load(resources.files("amoc").joinpath(SCHEMA_FILE).read_text())


def load_config(path: str | Path) -> dict:
    """Read and validate a YAML config file; raises ConfigError naming the file and the key."""
    try:
        config = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot read config file {path}: {err}") from err
    validate_config(config, source=str(path))
    return config


def validate_config(config: dict, source: str = "config") -> None:
    """Schema check plus the cross-key rules a schema cannot express."""
    try:
        jsonschema.validate(config, load_schema())
    except jsonschema.ValidationError as err:
        key = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        raise ConfigError(f"{source}: invalid value at '{key}': {err.message}") from err
    datasets = config["datasets"]
    for name, spec in datasets.items():
        walk = spec.get("synthwalk", {})
        if walk.get("min_len", 0) > walk.get("max_len", 10**9):
            raise ConfigError(f"{source}: datasets/{name}/synthwalk: min_len > max_len")
    resolve_pretrain(config, source)
    if config["pretrain"].get("dataset") not in datasets:
        raise ConfigError(
            f"{source}: pretrain/dataset '{config['pretrain'].get('dataset')}' is not one of "
            f"the configured datasets {sorted(datasets)}"
        )
    _check_flow_plugins(config["flow_methods"], source)
    for exp_name, exp in config["experiments"].items():
        _validate_experiment(exp_name, exp, config, source)
    check_config_references(config, source)  # names the report looks up, flow, datasets


def _check_flow_plugins(entries: list[str], source: str) -> None:
    """Import every "name=pkg.module:function" flow method now, while the DAG is built."""
    try:
        for name, path in parse_flow_methods(entries).items():
            if path is not None:
                load_object(path, f"flow method {name!r}")
    except ConfigError as err:
        raise ConfigError(f"{source}: flow_methods: {err}") from err


def _validate_experiment(name: str, exp: dict, config: dict, source: str) -> None:
    if exp["kind"] == ABLATIONS and name != ABLATIONS:
        raise ConfigError(f"{source}: experiments/{name}: kind '{ABLATIONS}' must be the "
                          f"experiment named '{ABLATIONS}' (its comparisons name it)")
    if ("variants" in exp) == ("grid" in exp):
        raise ConfigError(f"{source}: experiments/{name} needs exactly one of 'variants' or 'grid'")
    for ds in exp["datasets"]:
        if ds not in config["datasets"]:
            raise ConfigError(f"{source}: experiments/{name} uses unknown dataset '{ds}'")
        n_splits = config["datasets"][ds].get("n_splits", 10)
        if exp.get("splits", 1) > n_splits:
            raise ConfigError(
                f"{source}: experiments/{name}/splits = {exp['splits']} but dataset '{ds}' "
                f"has only n_splits = {n_splits}"
            )
    override_schema = {"$defs": load_schema()["$defs"], "$ref": "#/$defs/override"}
    seed = int(config.get("seed", 0))
    try:  # resolving a variant imports its plug-in model, if any
        variants = expand_variants(exp, config)
    except ConfigError as err:
        raise ConfigError(f"{source}: experiments/{name}: {err}") from err
    if not variants and exp["datasets"]:
        raise ConfigError(f"{source}: experiments/{name} has no variant left to run (every one "
                          "is null); give it one, or set its datasets to []")
    for variant, resolved in variants.items():
        try:
            jsonschema.validate({k: v for k, v in resolved.items() if v is not None},
                                override_schema)
        except jsonschema.ValidationError as err:
            key = "/".join(str(p) for p in err.absolute_path)
            raise ConfigError(
                f"{source}: experiments/{name} variant '{variant}': invalid value at '{key}': "
                f"{err.message}"
            ) from err
        for ds in exp["datasets"]:
            resolve_cell(resolved, dataset_epochs(config, ds, resolved["train"]), seed,
                         f"{source}: experiments/{name} variant '{variant}' on '{ds}'")
        flow = resolved["flow"]
        synthetic = all(config["datasets"][ds]["source"] == "synthwalk" for ds in exp["datasets"])
        if flow == GROUND_TRUTH and not synthetic:
            raise ConfigError(
                f"{source}: experiments/{name}/{variant} uses flow '{GROUND_TRUTH}' (synthwalk's "
                f"exact flow) on a dataset without it ({exp['datasets']})"
            )
        if flow not in (None, GROUND_TRUTH) and flow not in parse_flow_methods(
                config["flow_methods"]):
            raise ConfigError(
                f"{source}: experiments/{name}/{variant} uses flow '{flow}', not in "
                f"flow_methods {config['flow_methods']}"
            )


def _deep_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _set_dotted(target: dict, dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[leaf] = value


def expand_variants(exp: dict, config: dict) -> dict[str, dict]:
    """Resolve every variant of one experiment to a full {model, train, eval, flow} dict."""
    defaults = {key: config.get(key) for key in ("model", "train", "eval", "flow")}
    base = _deep_merge(defaults, exp.get("base", {}))
    # A null variant is dropped: a preset's way to remove one inherited from config.yaml.
    overrides: dict[str, dict] = {name: override for name, override in
                                  exp.get("variants", {}).items() if override is not None}
    if "grid" in exp:
        axes = exp["grid"]["axes"]
        for values in itertools.product(*axes.values()):
            override: dict = {}
            for dotted, value in zip(axes, values):
                _set_dotted(override, dotted, value)
            fields = {dotted.split(".")[-1]: value for dotted, value in zip(axes, values)}
            overrides[exp["grid"]["name"].format(**fields)] = override
        overrides = _keep_cells(overrides, exp["grid"].get("cells", "all"))
    resolved = {}
    for variant, override in overrides.items():
        spec = _deep_merge(base, override)
        if is_plugin(spec["model"]):  # a plug-in's keywords are its own, not AMOC's defaults
            spec["model"] = _deep_merge(exp.get("base", {}).get("model", {}),
                                        override.get("model", {}))
        if not model_spec(spec["model"]).uses_flow:
            spec["flow"] = None
        resolved[variant] = spec
    return resolved


def _keep_cells(overrides: dict[str, dict], cells: str | list[str]) -> dict[str, dict]:
    """A grid's ``cells``: "all", or the names of the cells to run (a CPU preset's subset)."""
    if cells == "all":
        return overrides
    unknown = [c for c in cells if c not in overrides]
    if unknown:
        raise ConfigError(f"grid/cells names {unknown}, not cells of the grid "
                          f"(its cells: {sorted(overrides)})")
    return {name: overrides[name] for name in cells}


def headline_variant(exp: dict, config: dict) -> str:
    """The variant an experiment is about: the one equal to its own base (Table I's default
    end-to-end AMOC, a sweep's unswept cell), else its first variant."""
    variants = expand_variants(exp, config)
    base_only = {k: v for k, v in exp.items() if k != "grid"} | {"variants": {"": {}}}
    own = expand_variants(base_only, config)[""]
    return next((v for v, spec in variants.items() if spec == own), next(iter(variants)))


def dataset_epochs(config: dict, dataset: str, train: dict) -> dict:
    """Apply a dataset's own epoch count (the paper trains 2000 epochs on MARS, 1000 elsewhere)."""
    epochs = config["datasets"][dataset].get("epochs")
    return train if epochs is None else {**train, "epochs": epochs}


def resolved(section: str, values: dict, where: str, **workflow: Any) -> dict:
    """One config section as its job's dataclass resolves it: validated, defaults filled in.

    ``workflow`` gives the DERIVED keys: the seed, and a placeholder num_classes that is dropped
    again (the training job takes it from its split).
    """
    try:
        out = SECTIONS[section].from_dict({**values, **workflow}).to_dict()
    except ConfigError as err:
        raise ConfigError(f"{where}: {section}: {err}") from err
    return {k: v for k, v in out.items() if k != "num_classes"}


def resolve_cell(spec: dict, train: dict, seed: int, where: str) -> dict:
    """The resolved model, train (with the seed) and eval settings of one experiment cell.

    A plug-in model's keys are its class's own keywords: kept as written (no AMOC defaults).
    An AMOC fusion at tanhN that is the same function as at poolN is resolved to poolN, so the
    two cells share one trained model (``amoc.models.config.canonical_fusion``).
    """
    model = (copy.deepcopy(spec["model"]) if is_plugin(spec["model"]) else
             canonical_fusion(resolved("model", spec["model"], where,
                                       num_classes=PLACEHOLDER_CLASSES)))
    return {"model": model,
            "train": resolved("train", train, where, seed=seed),
            "eval": resolved("eval", spec["eval"], where)}


def plan(config: dict) -> Plan:
    """Expand the experiment matrix into de-duplicated training and evaluation jobs."""
    train_jobs: dict[str, TrainJob] = {}
    eval_jobs: dict[tuple[str, str], EvalJob] = {}
    members: list[Member] = []
    seed = int(config.get("seed", 0))
    for exp_name, exp in config["experiments"].items():
        for variant, spec in expand_variants(exp, config).items():
            for dataset in exp["datasets"]:
                cell = resolve_cell(spec, dataset_epochs(config, dataset, spec["train"]), seed,
                                    f"experiments/{exp_name} variant '{variant}'")
                key = {"dataset": dataset, "model": cell["model"], "train": cell["train"],
                       "flow": spec["flow"], "seed": seed}
                if model_spec(spec["model"]).has_motion_net:
                    key["pretrain"] = pretrain_source(config, dataset)
                if is_plugin(spec["model"]):
                    key["plugin"] = source_fingerprint(spec["model"]["class"])
                train_hash = config_hash(key)
                train_jobs.setdefault(train_hash, TrainJob(
                    dataset, train_hash, cell["model"], cell["train"], spec["flow"], seed))
                eval_hash = config_hash(cell["eval"])
                eval_jobs.setdefault((train_hash, eval_hash), EvalJob(
                    dataset, train_hash, eval_hash, cell["eval"]))
                members.append(Member(exp_name, exp["kind"], dataset, variant, train_hash,
                                      eval_hash, int(exp.get("splits", 1)),
                                      int(exp.get("seeds", 1))))
    return Plan(train_jobs, eval_jobs, members)


def resolve_pretrain(config: dict, where: str = "config") -> dict:
    """The PretrainConfig the pretrain_motion jobs receive (validated, defaults filled in)."""
    pre = config["pretrain"]
    values = {k: v for k, v in pre.items() if k not in WORKFLOW_ONLY["pretrain"]}
    return resolved("pretrain", values, where, seed=int(config.get("seed", 0)))


def pretrain_source(config: dict, dataset: str) -> dict:
    """Which dataset and persons the motion net is pre-trained on, and with what settings."""
    pre = config["pretrain"]
    source = dataset if pre.get("per_dataset", False) else pre["dataset"]
    return {**resolve_pretrain(config), "dataset": source,
            "persons": pre.get("persons", PRETRAIN_PERSONS[0])}


def pretrain_persons(config: dict, dataset: str, split: int) -> str:
    """Checkpoint name of the motion net a model on ``dataset`` split ``split`` starts from.

    "all": every tracklet of the source dataset. "train" (default): the source's training persons
    of the same split when the source is the dataset itself (its test persons never reach
    pre-training), else of the source's split 0 (none of the source's persons is in the dataset).
    """
    source = pretrain_source(config, dataset)
    if source["persons"] == "all":
        return "all"
    return f"split{split if source['dataset'] == dataset else 0}"


PretrainKey = tuple[str, str, float, str, str]  # (source, target flow, width, colour, persons)
REFERENCE_TARGET = "gt"  # synthwalk's exact flow


def flow_error_nets(config: dict, plan_: Plan, dataset: str) -> dict[str, PretrainKey]:
    """{target: pre-training} of the motion nets the flow_error table of ``dataset`` compares.

    The split-0 net of every AMOC model's flow target, plus, when the pre-training source is
    synthetic, a reference net pre-trained the same way on the exact flow (``gt``): what the
    net learns when its targets carry no estimation error.
    """
    jobs = [j for j in plan_.train_jobs.values()
            if j.dataset == dataset and j.model.get("variant") == "amoc"]
    source = pretrain_source(config, dataset)["dataset"]
    nets = {j.flow: (source, j.flow, j.model["motion_width"], j.model["colour"],
                     pretrain_persons(config, dataset, 0)) for j in jobs}
    if nets and config["datasets"][source]["source"] == "synthwalk":
        first = nets[min(nets)]
        nets[REFERENCE_TARGET] = (source, REFERENCE_TARGET, *first[2:])
    return nets


def trainings_of(plan_: Plan, train_hash: str) -> list[Training]:
    """Every (split, replicate) a model is trained on: the union over the cells it fills."""
    return sorted({t for m in plan_.members if m.train_hash == train_hash for t in m.trainings})


def runs_ablations(config: dict) -> bool:
    """True when the config runs the ablations experiment on some dataset."""
    exp = config["experiments"].get(ABLATIONS)
    return bool(exp and exp["kind"] == ABLATIONS and exp["datasets"])


def milestone_experiments(config: dict, plan_: Plan) -> list[str]:
    """Experiments with data whose models record rank-1 at milestones: one learning-curve
    figure each."""
    return [name for name, exp in config["experiments"].items()
            if exp["datasets"] and any(plan_.train_jobs[m.train_hash].train["milestones"]
                                       for m in plan_.members if m.experiment == name)]


def lockstep_groups(config: dict, plan_: Plan) -> dict[str, list[list[Training]]]:
    """{train_hash: its trainings cut into lockstep jobs} under ``lockstep.enabled``; {} when off.

    Every training of a model (its splits x seeds) shares one architecture and train config,
    which is what amoc.train.lockstep needs; groups hold at most ``lockstep.max_models``.
    Plug-in models train one by one (their shapes are the plug-in's own).
    """
    settings = config.get("lockstep") or {}
    if not settings.get("enabled", False):
        return {}
    size = int(settings.get("max_models", 40))
    groups = {}
    for train_hash, job in plan_.train_jobs.items():
        if is_plugin(job.model):
            continue
        trainings = trainings_of(plan_, train_hash)
        groups[train_hash] = [trainings[i:i + size] for i in range(0, len(trainings), size)]
    return groups


def lockstep_shapes(groups: dict[str, list[list[Training]]]) -> list[tuple[tuple[str, ...],
                                                                          list[str]]]:
    """[(training names, train hashes)] of ``lockstep_groups``: the workflow defines one rule
    per distinct group of training names (``train_lockstep{i}``, in this order)."""
    shapes: dict[tuple[str, ...], list[str]] = {}
    for train_hash, chunks in groups.items():
        for chunk in chunks:
            shapes.setdefault(tuple(t.name for t in chunk), []).append(train_hash)
    return sorted(shapes.items())
