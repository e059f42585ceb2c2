# Offline optical flow per dataset and method, and motion-net pre-training on it.


rule flow:
    input:
        lambda w: cache_dir(w.dataset),
    output:
        flow="results/flow/{dataset}/{method}/flow.npy",
        meta="results/flow/{dataset}/{method}/meta.json",
    log:
        "results/logs/flow/{dataset}_{method}.log",
    benchmark:
        "results/benchmarks/flow/{dataset}_{method}.tsv"
    conda:
        "../../envs/flow.yaml"
    threads: 2
    resources:
        mem_mb=2000,
    shell:
        "python -m amoc.flow.store --cache {input} --method {wildcards.method} "
        "--out results/flow/{wildcards.dataset}/{wildcards.method} "
        "--threads {threads} 2> {log}"


rule pretrain_motion:
    input:
        cache=lambda w: cache_dir(w.source),
        flow=lambda w: flow_dir(w.source, w.method),
    output:
        "results/pretrain/{source}/{method}/w{width}.pt",
    log:
        "results/logs/pretrain/{source}_{method}_w{width}.log",
    benchmark:
        "results/benchmarks/pretrain/{source}_{method}_w{width}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        gpu=1,
    params:
        gpu_slots=GPU_SLOTS,
        flow=lambda w, input: os.path.dirname(input.flow),
        cfg=lambda w: as_json(
            {
                k: v
                for k, v in config["pretrain"].items()
                if k not in {"dataset", "per_dataset"}
            }
            | {"seed": config.get("seed", 0)}
        ),
    shell:
        "OMP_NUM_THREADS={threads} {params.gpu_slots}python -m amoc.train.pretrain_motion --cache {input.cache} --flow-store {params.flow} "
        "--width {wildcards.width} --pretrain-config {params.cfg} --out {output} 2> {log}"
