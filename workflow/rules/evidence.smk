# Evidence: flow accuracy against synthwalk's ground truth, and the paper's claims with CIs.


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
