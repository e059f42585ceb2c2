# Config validation and the experiment plan; everything else reads PLAN.
import json
import os
import shlex

from snakemake.utils import validate

from amoc.experiments import (
    plan,
    pretrain_persons,
    pretrain_source,
    resolve_pretrain,
    validate_config,
)
from amoc.gpu_slots import ShellPrefix, slot_count
from amoc.variants import VARIANTS

validate(config, "../../config/config.schema.yaml")
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


def motion_init(job, split):
    """Path of the pre-trained motion net this end-to-end model starts from on `split`."""
    src = pretrain_source(config, job.dataset)["dataset"]
    persons = pretrain_persons(config, job.dataset, int(split))
    width, colour = job.model["motion_width"], job.model["colour"]
    return f"results/pretrain/{src}/{job.flow}/w{width}_{colour}/{persons}.pt"


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
        f"results/eval/{member.dataset}/{member.train_hash}/{member.eval_hash}/split{k}.parquet"
        for k in range(member.splits)
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
        outs += (
            expand("results/tables/{name}.{ext}", name=name, ext=["md", "tex", "csv"])
            if exp["kind"].startswith("table")
            else expand("results/figures/{name}.{ext}", name=name, ext=["png", "pdf"])
        )
        if exp["kind"].startswith("table") and exp["datasets"]:
            outs += expand(
                "results/figures/{name}_cmc.{ext}", name=name, ext=["png", "pdf"]
            )
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
    return outs + ["results/tables/claims.md", "results/tables/claims.csv"]


def variant_spec(job):
    """The variant registry's entry for a training job (which inputs it needs)."""
    return VARIANTS[job.model["variant"]]


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
        "split": f"results/splits/{job.dataset}/split{wildcards.split}.json",
    }
    if job.flow is not None and variant_spec(job).reads_offline_flow:
        inputs["flow"] = flow_dir(job.dataset, job.flow)
    if variant_spec(job).has_motion_net:
        inputs["motion"] = motion_init(job, wildcards.split)
    return inputs


def optional_flag(inputs, key, flag):
    """`--flag PATH` for an optional input; flow stores are passed as their folder."""
    if key not in inputs.keys():
        return ""
    path = inputs[key]
    return f"{flag} {os.path.dirname(path) if path.endswith('flow.npy') else path}"


def eval_inputs(wildcards):
    job = PLAN.train_jobs[wildcards.train_hash]
    inputs = {
        "model": f"results/models/{job.dataset}/{job.train_hash}/split{wildcards.split}.pt",
        "cache": cache_dir(job.dataset),
        "split": f"results/splits/{job.dataset}/split{wildcards.split}.json",
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


def synthetic_datasets():
    """Datasets that carry ground-truth flow (synthwalk) and run at least one experiment."""
    used = {m.dataset for m in PLAN.members}
    return sorted(
        n for n, d in DATASETS.items() if d["source"] == "synthwalk" and n in used
    )


def pretrained_nets(dataset):
    """{target method: checkpoint} of the motion nets pre-trained for split 0 of this dataset."""
    jobs = [
        j
        for j in PLAN.train_jobs.values()
        if j.dataset == dataset and variant_spec(j).has_motion_net
    ]
    return {j.flow: motion_init(j, 0) for j in jobs}
