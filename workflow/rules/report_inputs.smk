# Functions of the report rules (report.smk): captions, HTML pages, report labels.
from amoc.report.describe import describe_run


def ran_text(experiment):
    """What the experiment trained, in words, for captions and titles (shell-quoted)."""
    cells = []
    for m in experiment_members(experiment):
        job = PLAN.train_jobs[m.train_hash]
        cells.append((job.model, job.flow, job.train, m.splits, m.seeds))
    return shlex.quote(describe_run(cells))


def report_pages():
    """The HTML page of every Markdown table (`snakemake --report` shows HTML inline)."""
    names = [
        n for n, x in config["experiments"].items() if x["kind"].startswith("table")
    ]
    names += [f"flow_error_{d}" for d in synthetic_datasets()] + ["claims"]
    names += ["ablations"] if runs_ablations(config) else []
    return expand("results/report/{name}.html", name=names)


def page_category(wildcards):
    return "Tables" if wildcards.name in config["experiments"] else "Evidence"


def ranked_labels(wildcards):
    """Report labels of a ranked figure: the experiment cells it heads and the split."""
    key = (wildcards.dataset, wildcards.train_hash, wildcards.eval_hash)
    return {"model": "; ".join(ranked_models()[key]), "split": "0"}
