# Dataset -> tracklet index -> frame cache -> splits.


rule synthwalk:
    output:
        directory("results/data/{dataset}/raw"),
    log:
        "results/logs/synthwalk/{dataset}.log",
    benchmark:
        "results/benchmarks/synthwalk/{dataset}.tsv"
    wildcard_constraints:
        dataset=sources("synthwalk"),
    conda:
        "../../envs/data.yaml"
    threads: 2
    resources:
        mem_mb=1000,
    params:
        args=lambda w: " ".join(
            f"--{k.replace('_', '-')} {v}"
            for k, v in sorted(DATASETS[w.dataset]["synthwalk"].items())
        ),
    shell:
        "python -m amoc.data.synthwalk --out {output} {params.args} --threads {threads} 2> {log}"


rule fetch:
    output:
        directory("results/data/{dataset}/raw"),
    log:
        "results/logs/fetch/{dataset}.log",
    benchmark:
        "results/benchmarks/fetch/{dataset}.tsv"
    wildcard_constraints:
        dataset=sources("download"),
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        url=lambda w: DATASETS[w.dataset].get("url", ""),
        archive=lambda w: DATASETS[w.dataset].get("archive", ""),
        checksum=lambda w: DATASETS[w.dataset].get("checksum") or "",
    shell:
        "python -m amoc.data.fetch --dataset {wildcards.dataset} --url '{params.url}' "
        "--archive '{params.archive}' --checksum '{params.checksum}' --out {output} 2> {log}"


rule index:
    input:
        raw_input,
    output:
        "results/data/{dataset}/index.parquet",
    log:
        "results/logs/index/{dataset}.log",
    benchmark:
        "results/benchmarks/index/{dataset}.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        root=raw_root,
        reader=lambda w: reader(w.dataset),
        min_frames=lambda w: DATASETS[w.dataset].get("min_frames", 2),
        protocol=lambda w: (
            f"--protocol {DATASETS[w.dataset]['protocol']}"
            if "protocol" in DATASETS[w.dataset]
            else ""
        ),
    shell:
        "python -m amoc.data.index_cli --dataset {params.reader} --root {params.root} "
        "--min-frames {params.min_frames} {params.protocol} --out {output} 2> {log}"


rule cache:
    input:
        "results/data/{dataset}/index.parquet",
    output:
        directory("results/data/{dataset}/cache"),
    log:
        "results/logs/cache/{dataset}.log",
    benchmark:
        "results/benchmarks/cache/{dataset}.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 2
    resources:
        mem_mb=2000,
    shell:
        "python -m amoc.data.cache --index {input} --out {output} --threads {threads} 2> {log}"


rule split:
    input:
        "results/data/{dataset}/index.parquet",
    output:
        "results/splits/{dataset}/split{split}.json",
    log:
        "results/logs/split/{dataset}_{split}.log",
    benchmark:
        "results/benchmarks/split/{dataset}_{split}.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=500,
    params:
        n=lambda w: DATASETS[w.dataset].get("n_splits", 10),
        seed=lambda w: DATASETS[w.dataset].get("split_seed", 0),
        standard=lambda w: (
            f"--standard {DATASETS[w.dataset]['standard_splits']}"
            if "standard_splits" in DATASETS[w.dataset]
            else ""
        ),
        out_dir=lambda w: f"results/splits/{w.dataset}",
    shell:
        "python -m amoc.data.splits --index {input} --dataset {wildcards.dataset} --n-splits {params.n} "
        "--seed {params.seed} {params.standard} --only {wildcards.split} --out-dir {params.out_dir} 2> {log}"
