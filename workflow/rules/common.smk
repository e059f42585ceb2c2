# Config validation and the experiment plan; everything else reads PLAN.
import json

from snakemake.utils import validate

from amoc.experiments import plan, pretrain_source, validate_config

validate(config, "../../config/config.schema.yaml")
validate_config(config)
PLAN = plan(config)
DATASETS = config["datasets"]
PY = "python -m"


wildcard_constraints:
    dataset="|".join(DATASETS) or "NONE",
    method="[a-z0-9_]+",
    split=r"\d+",
    train_hash="[0-9a-f]{16}",
    eval_hash="[0-9a-f]{16}",


def as_json(obj):
    """Quote a dict for the shell: params hold exactly the resolved settings of one job."""
    return "'" + json.dumps(obj, sort_keys=True).replace("'", "'\\''") + "'"


def cache_dir(dataset):
    return f"results/data/{dataset}/cache"


def flow_dir(dataset, method):
    return f"results/flow/{dataset}/{method}"


def motion_init(job):
    """Path of the pre-trained motion net this end-to-end model starts from."""
    src = pretrain_source(config, job.dataset)["dataset"]
    return f"results/pretrain/{src}/{job.flow}/w{job.model['motion_width']}.pt"


def split_files(dataset, n):
    return [f"results/splits/{dataset}/split{k}.json" for k in range(n)]


def eval_files(member):
    return [
        f"results/eval/{member.dataset}/{member.train_hash}/{member.eval_hash}/split{k}.parquet"
        for k in range(member.splits)
    ]


def experiment_members(name):
    return [m for m in PLAN.members if m.experiment == name]


def all_outputs():
    outs = []
    for name, exp in config["experiments"].items():
        outs += expand("results/tables/{name}.{ext}", name=name, ext=["md", "tex", "csv"]) if exp[
            "kind"
        ].startswith("table") else expand(
            "results/figures/{name}.{ext}", name=name, ext=["png", "pdf"]
        )
        if exp["kind"].startswith("table") and exp["datasets"]:
            outs += expand("results/figures/{name}_cmc.{ext}", name=name, ext=["png", "pdf"])
    outs += expand("results/figures/fig5_{dataset}.{ext}", dataset=fig5_datasets(), ext=["png", "pdf"])
    return outs


def fig5_datasets():
    """Fig. 5 is drawn for every dataset that has an end-to-end AMOC model."""
    return sorted({j.dataset for j in PLAN.train_jobs.values() if j.model["variant"] == "amoc"})


def fig5_job(dataset):
    """The end-to-end model whose motion net Fig. 5 shows (Table I's, else any)."""
    jobs = [PLAN.train_jobs[m.train_hash] for m in PLAN.members
            if m.dataset == dataset and PLAN.train_jobs[m.train_hash].model["variant"] == "amoc"]
    return jobs[0]
