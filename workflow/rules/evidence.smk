# Evidence: flow accuracy against synthwalk's ground truth, the paper's claims and the ablations
# with training-level intervals, and rank-1 learning curves.


rule flow_error:
    input:
        cache=lambda w: cache_dir(w.dataset),
        truth=lambda w: flow_dir(w.dataset, "gt"),
        split="results/splits/{dataset}/split0.json",
        nets=lambda w: sorted(pretrained_nets(w.dataset).values()),
    output:
        md="results/tables/flow_error_{dataset}.md",
        csv="results/tables/flow_error_{dataset}.csv",
    log:
        "results/logs/flow_error/{dataset}.log",
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        truth=lambda w, input: os.path.dirname(input.truth),
        nets=lambda w: " ".join(
            f"{t}={p}" for t, p in sorted(pretrained_nets(w.dataset).items())
        ),
    shell:
        "OMP_NUM_THREADS={threads} python -m amoc.eval.flow_error --cache {input.cache} "
        "--truth {params.truth} --split {input.split} "
        "--motion-net {params.nets} --out results/tables/flow_error_{wildcards.dataset} 2> {log}"


rule claims:
    input:
        rows=expand(
            "results/rows/{experiment}.parquet", experiment=config["experiments"]
        ),
        raw=lambda w: [f"results/data/{d}/raw" for d in synthetic_datasets()],
    output:
        md="results/tables/claims.md",
        csv="results/tables/claims.csv",
    log:
        "results/logs/claims.log",
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        twins=lambda w: " ".join(
            f"{d}=results/data/{d}/raw/synthwalk.json" for d in synthetic_datasets()
        ),
    shell:
        "python -m amoc.report.claims --rows {input.rows} --twins {params.twins} "
        "--out results/tables/claims 2> {log}"


rule ablations:
    input:
        "results/rows/ablations.parquet",
    output:
        md="results/tables/ablations.md",
        csv="results/tables/ablations.csv",
    log:
        "results/logs/ablations.log",
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    shell:
        "python -m amoc.report.claims --rows {input} --builtin ablation_claims.yaml "
        "--title 'Ablations that explain Table I (not claims of the paper)' "
        "--out results/tables/ablations 2> {log}"


rule rank1_curves:
    input:
        lambda w: [f for m in experiment_members(w.experiment) for f in curve_files(m)],
    output:
        png=report(
            "results/figures/{experiment}_rank1.png",
            caption="../report/rank1.rst",
            category="Learning curves",
            labels={"experiment": "{experiment}"},
        ),
        pdf="results/figures/{experiment}_rank1.pdf",
    log:
        "results/logs/rank1_curves/{experiment}.log",
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        members=lambda w: " ".join(
            f"--member {m.variant} " + " ".join(curve_files(m))
            for m in experiment_members(w.experiment)
        ),
    shell:
        "python -m amoc.report.rank1_curves --experiment {wildcards.experiment} "
        "{params.members} --out results/figures/{wildcards.experiment}_rank1 2> {log}"
