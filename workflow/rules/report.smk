# Per-split rows -> per-experiment summary -> tables and figures.

FIGURE_OF_KIND = {"fig6a": "fig6a", "fig6b": "fig6b", "fig6c": "fig6c", "fig6d": "fig6d"}


def member_args(wildcards):
    """`--member VARIANT DATASET FILE...` groups, one per experiment cell."""
    groups = []
    for m in experiment_members(wildcards.experiment):
        groups.append(f"--member {m.variant} {m.dataset} " + " ".join(eval_files(m)))
    return " ".join(groups)


rule collect:
    input:
        lambda w: [f for m in experiment_members(w.experiment) for f in eval_files(m)],
    output:
        rows="results/rows/{experiment}.parquet",
        summary="results/summary/{experiment}.parquet",
    params:
        members=member_args,
    log:
        "results/logs/collect/{experiment}.log",
    benchmark:
        "results/benchmarks/collect/{experiment}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        "../../envs/report.yaml"
    shell:
        "{PY} amoc.collect --experiment {wildcards.experiment} {params.members} "
        "--rows {output.rows} --summary {output.summary} 2> {log}"


rule table:
    input:
        "results/summary/{experiment}.parquet",
    output:
        multiext("results/tables/{experiment}", ".md", ".tex", ".csv"),
    params:
        kind=lambda w: config["experiments"][w.experiment]["kind"],
    log:
        "results/logs/table/{experiment}.log",
    benchmark:
        "results/benchmarks/table/{experiment}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        "../../envs/report.yaml"
    shell:
        "{PY} amoc.report.tables --summary {input} --table {params.kind} "
        "--experiment {wildcards.experiment} --out-dir results/tables 2> {log}"


rule figure:
    input:
        "results/summary/{experiment}.parquet",
    output:
        multiext("results/figures/{experiment}", ".png", ".pdf"),
    wildcard_constraints:
        experiment="|".join(e for e, x in config["experiments"].items() if x["kind"] in FIGURE_OF_KIND)
        or "NONE",
    params:
        kind=lambda w: FIGURE_OF_KIND[config["experiments"][w.experiment]["kind"]],
    log:
        "results/logs/figure/{experiment}.log",
    benchmark:
        "results/benchmarks/figure/{experiment}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        "../../envs/report.yaml"
    shell:
        "{PY} amoc.report.figures --summary {input} --figure {params.kind} "
        "--experiment {wildcards.experiment} --out results/figures/{wildcards.experiment} 2> {log}"


rule cmc_figure:
    input:
        "results/summary/{experiment}.parquet",
    output:
        multiext("results/figures/{experiment}_cmc", ".png", ".pdf"),
    log:
        "results/logs/figure/{experiment}_cmc.log",
    benchmark:
        "results/benchmarks/figure/{experiment}_cmc.tsv"
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        "../../envs/report.yaml"
    shell:
        "{PY} amoc.report.figures --summary {input} --figure cmc "
        "--experiment {wildcards.experiment} --out results/figures/{wildcards.experiment}_cmc 2> {log}"


def fig5_inputs(wildcards):
    job = fig5_job(wildcards.dataset)
    return {
        "model": f"results/models/{job.dataset}/{job.train_hash}/split0.pt",
        "cache": cache_dir(job.dataset),
        "flow": flow_dir(job.dataset, job.flow),
    }


rule fig5:
    input:
        unpack(fig5_inputs),
    output:
        multiext("results/figures/fig5_{dataset}", ".png", ".pdf"),
    log:
        "results/logs/figure/fig5_{dataset}.log",
    benchmark:
        "results/benchmarks/figure/fig5_{dataset}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        gpu=1,
    conda:
        "../../envs/torch.yaml"
    shell:
        "{PY} amoc.report.fig5 --model {input.model} --cache {input.cache} --flow-store {input.flow} "
        "--out results/figures/fig5_{wildcards.dataset} 2> {log}"
