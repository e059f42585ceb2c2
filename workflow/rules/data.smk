# Dataset -> tracklet index -> frame cache -> splits.


def sources(kind):
    names = [n for n, d in DATASETS.items() if d["source"] == kind]
    return "|".join(names) or "NO_DATASET"


def raw_input(wildcards):
    """Generated or downloaded datasets are workflow outputs; a user's folder is read in place."""
    spec = DATASETS[wildcards.dataset]
    return [] if spec["source"] == "folder" else [f"results/data/{wildcards.dataset}/raw"]


def raw_root(wildcards):
    spec = DATASETS[wildcards.dataset]
    return spec["root"] if spec["source"] == "folder" else f"results/data/{wildcards.dataset}/raw"


def reader(dataset):
    spec = DATASETS[dataset]
    return spec.get("reader", "synthwalk" if spec["source"] == "synthwalk" else dataset)


rule synthwalk:
    output:
        directory("results/data/{dataset}/raw"),
    wildcard_constraints:
        dataset=sources("synthwalk"),
    params:
        args=lambda w: " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in sorted(DATASETS[w.dataset]["synthwalk"].items())
        ),
    log:
        "results/logs/synthwalk/{dataset}.log",
    benchmark:
        "results/benchmarks/synthwalk/{dataset}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        "../../envs/data.yaml"
    shell:
        "{PY} amoc.data.synthwalk_cli --out {output} {params.args} 2> {log}"


rule fetch:
    output:
        directory("results/data/{dataset}/raw"),
    wildcard_constraints:
        dataset=sources("download"),
    params:
        url=lambda w: DATASETS[w.dataset].get("url", ""),
        archive=lambda w: DATASETS[w.dataset].get("archive", ""),
        checksum=lambda w: DATASETS[w.dataset].get("checksum") or "",
    log:
        "results/logs/fetch/{dataset}.log",
    benchmark:
        "results/benchmarks/fetch/{dataset}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        "../../envs/data.yaml"
    shell:
        "{PY} amoc.data.fetch --dataset {wildcards.dataset} --url '{params.url}' "
        "--archive '{params.archive}' --checksum '{params.checksum}' --out {output} 2> {log}"


rule index:
    input:
        raw_input,
    output:
        "results/data/{dataset}/index.parquet",
    params:
        root=raw_root,
        reader=lambda w: reader(w.dataset),
        min_frames=lambda w: DATASETS[w.dataset].get("min_frames", 2),
        protocol=lambda w: (
            f"--protocol {DATASETS[w.dataset]['protocol']}" if "protocol" in DATASETS[w.dataset] else ""
        ),
    log:
        "results/logs/index/{dataset}.log",
    benchmark:
        "results/benchmarks/index/{dataset}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../../envs/data.yaml"
    shell:
        "{PY} amoc.data.index_cli --dataset {params.reader} --root {params.root} "
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
    threads: 2
    resources:
        mem_mb=2000,
    conda:
        "../../envs/data.yaml"
    shell:
        "{PY} amoc.data.cache --index {input} --out {output} --threads {threads} 2> {log}"


rule split:
    input:
        "results/data/{dataset}/index.parquet",
    output:
        "results/splits/{dataset}/split{split}.json",
    params:
        n=lambda w: DATASETS[w.dataset].get("n_splits", 10),
        seed=lambda w: DATASETS[w.dataset].get("split_seed", 0),
        standard=lambda w: (
            f"--standard {DATASETS[w.dataset]['standard_splits']}"
            if "standard_splits" in DATASETS[w.dataset]
            else ""
        ),
        out_dir=lambda w: f"results/splits/{w.dataset}",
    log:
        "results/logs/split/{dataset}_{split}.log",
    benchmark:
        "results/benchmarks/split/{dataset}_{split}.tsv"
    threads: 1
    resources:
        mem_mb=500,
    conda:
        "../../envs/data.yaml"
    shell:
        "{PY} amoc.data.splits --index {input} --dataset {wildcards.dataset} --n-splits {params.n} "
        "--seed {params.seed} {params.standard} --only {wildcards.split} --out-dir {params.out_dir} 2> {log}"
