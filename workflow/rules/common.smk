# Config validation and the experiment plan; everything else reads PLAN.
import json
import os
import shlex
from importlib import resources

from snakemake.utils import validate

from amoc.experiments import (
    ABLATIONS,
    SCHEMA_FILE,
    TRAINING_PATTERN,
    Training,
    flow_error_nets,
    headline_variant,
    lockstep_groups,
    lockstep_shapes,
    milestone_experiments,
    plan,
    pretrain_persons,
    pretrain_source,
    resolve_pretrain,
    runs_ablations,
    validate_config,
)
from amoc.gpu_slots import ShellPrefix, slot_count
from amoc.plugins import is_plugin, model_spec, parse_flow_methods, source_fingerprint

# envs/*.yaml install amoc from ${AMOC_ROOT} (pip expands it): this repository.
os.environ.update(AMOC_ROOT=workflow.basedir)
# The schema is read from the installed package, so the workflow runs from any directory.
validate(config, str(resources.files("amoc").joinpath(SCHEMA_FILE)))
validate_config(config)
PLAN = plan(config)
DATASETS = config["datasets"]


def local_executor():
    """True once Snakemake runs jobs on this machine (local or dry run), False on SLURM."""
    plugin = workflow.executor_plugin
    return plugin is not None and plugin.common_settings.local_exec


# GPU rules start their shell line with {params.gpu_slots} = GPU_SLOTS: the amoc.gpu_slots
# wrapper when the `gpus` setting is present and jobs run locally, else nothing. An object
# param is not a params rerun trigger, so switching the setting reruns nothing.
GPU_SLOTS = ShellPrefix(config.get("gpus"), local_executor)


onstart:
    # The gpus setting decides how many GPU jobs run at once (G ids x k), whatever the profile
    # says; this also fails before the first job if a listed id does not exist.
    if config.get("gpus") and local_executor():
        workflow.register_resource("gpu", slot_count(config["gpus"]))


wildcard_constraints:
    dataset="|".join(DATASETS) or "NONE",
    experiment="|".join(config["experiments"]) or "NONE",
    method="[a-z0-9_]+",
    split=r"\d+",
    training=TRAINING_PATTERN,
    train_hash="[0-9a-f]{16}",
    eval_hash="[0-9a-f]{16}",


def as_json(obj):
    """Quote a dict for the shell: params hold exactly the resolved settings of one job."""
    return shlex.quote(json.dumps(obj, sort_keys=True))


def cache_dir(dataset):
    return f"results/data/{dataset}/cache"


def flow_dir(dataset, method):
    """A flow store is named by its array; the folder also holds meta.json (and resume files)."""
    return f"results/flow/{dataset}/{method}/flow.npy"


def pretrain_path(source, flow, width, colour, persons):
    """Checkpoint of the motion net pre-trained on `source`'s `flow` targets."""
    return f"results/pretrain/{source}/{flow}/w{width}_{colour}/{persons}.pt"


def split_file(dataset, training):
    """The split JSON of a `{training}` wildcard (split k, any seed replicate)."""
    return f"results/splits/{dataset}/split{Training.parse(training).split}.json"


def training_seed(job, training):
    """The seed of one training: the config's seed + its replicate number."""
    return job.seed + Training.parse(training).replicate


def motion_init(job, split):
    """Path of the pre-trained motion net this end-to-end model starts from on `split`."""
    src = pretrain_source(config, job.dataset)["dataset"]
    persons = pretrain_persons(config, job.dataset, int(split))
    return pretrain_path(
        src, job.flow, job.model["motion_width"], job.model["colour"], persons
    )


def pretrain_inputs(wildcards):
    """Frames and flow targets, plus the split whose training persons it uses (if any)."""
    inputs = {
        "cache": cache_dir(wildcards.source),
        "flow": flow_dir(wildcards.source, wildcards.method),
    }
    if wildcards.persons != "all":
        inputs["split"] = f"results/splits/{wildcards.source}/{wildcards.persons}.json"
    return inputs


def split_files(dataset, n):
    return [f"results/splits/{dataset}/split{k}.json" for k in range(n)]


def eval_files(member):
    return [
        f"results/eval/{member.dataset}/{member.train_hash}/{member.eval_hash}/{t.name}.parquet"
        for t in member.trainings
    ]


def experiment_members(name):
    return [m for m in PLAN.members if m.experiment == name]


def report_test_length(name):
    """Tables and CMC/sweep figures report the longest evaluated test length (the paper: 128 frames)."""
    lengths = [
        max(PLAN.eval_jobs[(m.train_hash, m.eval_hash)].eval["test_lengths"])
        for m in experiment_members(name)
    ]
    return max(lengths, default=128)


def all_outputs():
    outs = []
    for name, exp in config["experiments"].items():
        if exp["kind"].startswith("table"):
            outs += expand(
                "results/tables/{name}.{ext}", name=name, ext=["md", "tex", "csv"]
            )
        elif exp["kind"] in FIGURE_KINDS:
            outs += expand(
                "results/figures/{name}.{ext}", name=name, ext=["png", "pdf"]
            )
        if exp["kind"].startswith("table") and exp["datasets"]:
            outs += expand(
                "results/figures/{name}_cmc.{ext}", name=name, ext=["png", "pdf"]
            )
    outs += curve_and_ranked_outputs()
    outs += expand(
        "results/figures/fig5_{dataset}.{ext}",
        dataset=fig5_datasets(),
        ext=["png", "pdf"],
    )
    outs += expand(
        "results/tables/flow_error_{dataset}.{ext}",
        dataset=synthetic_datasets(),
        ext=["md", "csv"],
    )
    if runs_ablations(config):
        outs += expand("results/tables/ablations.{ext}", ext=["md", "csv"])
    outs += expand(
        "results/figures/{name}_rank1.{ext}",
        name=milestone_experiments(config, PLAN),
        ext=["png", "pdf"],
    )
    return outs + ["results/tables/claims.md", "results/tables/claims.csv"]


def variant_spec(job):
    """Which inputs a training job's model needs (AMOC variant registry, or a plug-in's)."""
    return model_spec(job.model)


def fig5_datasets():
    """Fig. 5 is drawn for every dataset that has an end-to-end AMOC model."""
    return sorted(
        {j.dataset for j in PLAN.train_jobs.values() if variant_spec(j).has_motion_net}
    )


def fig5_job(dataset):
    """The end-to-end model whose pre-trained motion net Fig. 5 shows: EpicFlow's if any."""
    jobs = [
        PLAN.train_jobs[m.train_hash]
        for m in PLAN.members
        if m.dataset == dataset
        and variant_spec(PLAN.train_jobs[m.train_hash]).has_motion_net
    ]
    return next((j for j in jobs if j.flow == "epic"), jobs[0])


def sources(kind):
    names = [n for n, d in DATASETS.items() if d["source"] == kind]
    return "|".join(names) or "NO_DATASET"


def raw_input(wildcards):
    """Generated or downloaded datasets are workflow outputs; a user's folder is read in place."""
    spec = DATASETS[wildcards.dataset]
    return (
        [] if spec["source"] == "folder" else [f"results/data/{wildcards.dataset}/raw"]
    )


def raw_root(wildcards):
    spec = DATASETS[wildcards.dataset]
    return (
        spec["root"]
        if spec["source"] == "folder"
        else f"results/data/{wildcards.dataset}/raw"
    )


def reader(dataset):
    spec = DATASETS[dataset]
    return spec.get("reader", "synthwalk" if spec["source"] == "synthwalk" else dataset)


def train_inputs(wildcards):
    job = PLAN.train_jobs[wildcards.train_hash]
    inputs = {
        "cache": cache_dir(job.dataset),
        "split": split_file(job.dataset, wildcards.training),
    }
    if job.flow is not None and variant_spec(job).reads_offline_flow:
        inputs["flow"] = flow_dir(job.dataset, job.flow)
    if variant_spec(job).has_motion_net:
        inputs["motion"] = motion_init(job, Training.parse(wildcards.training).split)
    return inputs


# Lockstep (config `lockstep.enabled`): the trainings of a model as one job (rules/train.smk
# defines one rule per distinct group of training names); other models train one by one.
LOCKSTEP_GROUPS = lockstep_groups(config, PLAN)


def hash_pattern(hashes):
    """A wildcard regex matching exactly these train hashes ("NONE" matches no hash)."""
    return "|".join(sorted(hashes)) or "NONE"


def single_train_hashes():
    return [h for h in PLAN.train_jobs if h not in LOCKSTEP_GROUPS]


def lockstep_inputs(names):
    """The input function of a lockstep rule: frames, flow, and per training its split (and
    the motion net it starts from)."""

    def inputs(wildcards):
        job = PLAN.train_jobs[wildcards.train_hash]
        out = {"cache": cache_dir(job.dataset)}
        if job.flow is not None and variant_spec(job).reads_offline_flow:
            out["flow"] = flow_dir(job.dataset, job.flow)
        for name in names:
            out[f"split_{name}"] = split_file(job.dataset, name)
            if variant_spec(job).has_motion_net:
                out[f"motion_{name}"] = motion_init(job, Training.parse(name).split)
        return out

    return inputs


def lockstep_members(names):
    """`--member SPLIT SEED OUT CURVES [MOTION]` per training of a lockstep job."""

    def members(wildcards, input, output):
        job = PLAN.train_jobs[wildcards.train_hash]
        parts = []
        for name, model, curves in zip(names, output.models, output.curves):
            member = [
                input[f"split_{name}"],
                str(training_seed(job, name)),
                model,
                curves,
            ]
            if variant_spec(job).has_motion_net:
                member.append(input[f"motion_{name}"])
            parts.append("--member " + " ".join(shlex.quote(p) for p in member))
        return " ".join(parts)

    return members


def optional_flag(inputs, key, flag):
    """`--flag PATH` for an optional input; flow stores are passed as their folder."""
    if key not in inputs.keys():
        return ""
    path = inputs[key]
    return f"{flag} {os.path.dirname(path) if path.endswith('flow.npy') else path}"


def eval_inputs(wildcards):
    job = PLAN.train_jobs[wildcards.train_hash]
    inputs = {
        "model": f"results/models/{job.dataset}/{job.train_hash}/{wildcards.training}.pt",
        "cache": cache_dir(job.dataset),
        "split": split_file(job.dataset, wildcards.training),
    }
    if job.flow is not None and variant_spec(job).reads_offline_flow:
        inputs["flow"] = flow_dir(job.dataset, job.flow)
    return inputs


FIGURE_KINDS = ("fig6a", "fig6b", "fig6c", "fig6d")


def member_args(wildcards):
    """`--member VARIANT DATASET FILE...` groups, one per experiment cell."""
    groups = []
    for m in experiment_members(wildcards.experiment):
        groups.append(f"--member {m.variant} {m.dataset} " + " ".join(eval_files(m)))
    return " ".join(groups)


def fig5_inputs(wildcards):
    """The pre-trained (not fine-tuned) motion net, its target flow, split 0's test persons."""
    job = fig5_job(wildcards.dataset)
    return {
        "motion": motion_init(job, 0),
        "cache": cache_dir(job.dataset),
        "flow": flow_dir(job.dataset, job.flow),
        "split": f"results/splits/{job.dataset}/split0.json",
    }


def fig5_title(dataset):
    """What Fig. 5 shows, for its title (and the report caption)."""
    job = fig5_job(dataset)
    source = pretrain_source(config, dataset)
    return (
        f"{dataset}: motion net pre-trained on {source['dataset']} "
        f"(pretrain.persons: {source['persons']}), {job.flow} target; "
        "held-out persons of split 0"
    )


FLOW_PLUGINS = parse_flow_methods(config["flow_methods"])


def flow_plugin_flag(method):
    """`--plugin pkg.module:function` for a plug-in flow method, nothing for a built-in one."""
    path = FLOW_PLUGINS.get(method)
    return f"--plugin {path}" if path else ""


def flow_plugin_source(method):
    """A plug-in's file hash as a param: editing the file reruns its flow stores."""
    path = FLOW_PLUGINS.get(method)
    return source_fingerprint(path)["source_sha256"] if path else ""


# Training curves and ranked results (docs/plugins.md lists what each model writes).


def curve_and_ranked_outputs():
    """Per experiment with data: its training curves, and per dataset its ranked results."""
    outs = []
    for name, exp in config["experiments"].items():
        if exp["datasets"]:
            outs += expand(
                "results/figures/{name}_curves.{ext}", name=name, ext=["png", "pdf"]
            )
    for dataset, train_hash, eval_hash in ranked_models():
        outs += expand(
            "results/figures/ranked/{dataset}/{train_hash}_{eval_hash}.{ext}",
            dataset=dataset,
            train_hash=train_hash,
            eval_hash=eval_hash,
            ext=["png", "pdf"],
        )
    return outs


def curve_files(member):
    return [
        f"results/curves/train/{member.dataset}/{member.train_hash}/{t.name}.json"
        for t in member.trainings
    ]


def pretrain_curve(job):
    """The pre-training log of the motion net an end-to-end model starts from on split 0."""
    path = motion_init(job, 0)
    return f"results/curves/{os.path.relpath(path, 'results')[:-3]}.json"


def curve_inputs(wildcards):
    members = experiment_members(wildcards.experiment)
    jobs = [PLAN.train_jobs[m.train_hash] for m in members]
    return {
        "train": [f for m in members for f in curve_files(m)],
        "pretrain": sorted(
            {pretrain_curve(j) for j in jobs if variant_spec(j).has_motion_net}
        ),
    }


def curve_args(wildcards, input):
    """`--member VARIANT JSON...` per cell and `--pretrain LABEL JSON` per motion net."""
    members = experiment_members(wildcards.experiment)
    several = len({m.dataset for m in members}) > 1
    groups = [
        " ".join(
            ["--member", f"{m.variant}@{m.dataset}" if several else m.variant]
            + curve_files(m)
        )
        for m in members
    ]
    groups += [
        f"--pretrain {os.path.relpath(path, 'results/curves/pretrain')[:-5]} {path}"
        for path in input.pretrain
    ]
    return " ".join(groups)


def headline_member(experiment, dataset):
    name = headline_variant(config["experiments"][experiment], config)
    return next(
        m
        for m in experiment_members(experiment)
        if m.variant == name and m.dataset == dataset
    )


_RANKED = {}


def ranked_models():
    """(dataset, train_hash, eval_hash) of each distinct headline model -> the "experiment:
    variant" cells it heads: one ranked figure per model, however many experiments share it.
    """
    if not _RANKED:
        for name, exp in config["experiments"].items():
            for dataset in exp["datasets"]:
                m = headline_member(name, dataset)
                key = (m.dataset, m.train_hash, m.eval_hash)
                _RANKED.setdefault(key, []).append(f"{name}: {m.variant}")
    return _RANKED


def ranked_inputs(wildcards):
    job = PLAN.train_jobs[wildcards.train_hash]
    inputs = {
        "model": f"results/models/{job.dataset}/{job.train_hash}/split0.pt",
        "cache": cache_dir(job.dataset),
        "split": f"results/splits/{job.dataset}/split0.json",
    }
    if job.flow is not None and variant_spec(job).reads_offline_flow:
        inputs["flow"] = flow_dir(job.dataset, job.flow)
    if DATASETS[job.dataset]["source"] == "synthwalk":
        inputs["raw"] = f"results/data/{job.dataset}/raw"
    return inputs


def ranked_params(wildcards, input):
    """Evaluation settings, twins (synthwalk) and title of a ranked-results figure."""
    ev = PLAN.eval_jobs[(wildcards.train_hash, wildcards.eval_hash)].eval
    args = [
        f"--eval-config {as_json(ev)}",
        optional_flag(input, "flow", "--flow-store"),
    ]
    if "raw" in input.keys():
        args.append(f"--twins {input.raw}/synthwalk.json")
    key = (wildcards.dataset, wildcards.train_hash, wildcards.eval_hash)
    title = f"{', '.join(ranked_models()[key])} on {wildcards.dataset}, split 0"
    args.append(f"--title {shlex.quote(title)}")
    return " ".join(args)


def plugin_labels(experiment):
    """`--label VARIANT=TEXT` naming each plug-in model's class in the table."""
    labels = {
        m.variant: f"{m.variant} (plug-in {PLAN.train_jobs[m.train_hash].model['class']})"
        for m in experiment_members(experiment)
        if is_plugin(PLAN.train_jobs[m.train_hash].model)
    }
    items = " ".join(shlex.quote(f"{k}={v}") for k, v in sorted(labels.items()))
    return f"--label {items}" if items else ""


# Evidence (rules/evidence.smk): flow accuracy and the paper's claims.


def synthetic_datasets():
    """Datasets that carry ground-truth flow (synthwalk) and run at least one experiment."""
    used = {m.dataset for m in PLAN.members}
    return sorted(
        n for n, d in DATASETS.items() if d["source"] == "synthwalk" and n in used
    )


def pretrained_nets(dataset):
    """{target method: checkpoint} of the motion nets the flow_error table of this dataset
    compares (split 0's, plus the exact-flow reference on a synthetic source)."""
    return {
        target: pretrain_path(*key)
        for target, key in flow_error_nets(config, PLAN, dataset).items()
    }
