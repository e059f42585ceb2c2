# Training (per dataset x resolved variant x split) and evaluation (per evaluation setting).


def train_inputs(wildcards):
    job = PLAN.train_jobs[wildcards.train_hash]
    inputs = {
        "cache": cache_dir(job.dataset),
        "split": f"results/splits/{job.dataset}/split{wildcards.split}.json",
    }
    if job.flow is not None and job.model["variant"] != "amoc":
        inputs["flow"] = flow_dir(job.dataset, job.flow)
    if job.model["variant"] == "amoc":
        inputs["motion"] = motion_init(job)
    return inputs


def optional_flag(inputs, key, flag):
    return f"{flag} {inputs[key]}" if key in inputs.keys() else ""


rule train:
    input:
        unpack(train_inputs),
    output:
        "results/models/{dataset}/{train_hash}/split{split}.pt",
    params:
        model=lambda w: as_json(PLAN.train_jobs[w.train_hash].model),
        train=lambda w: as_json(
            PLAN.train_jobs[w.train_hash].train | {"seed": PLAN.train_jobs[w.train_hash].seed}
        ),
        flow=lambda w, input: optional_flag(input, "flow", "--flow-store"),
        motion=lambda w, input: optional_flag(input, "motion", "--motion-init"),
    log:
        "results/logs/train/{dataset}_{train_hash}_split{split}.log",
    benchmark:
        "results/benchmarks/train/{dataset}_{train_hash}_split{split}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        gpu=1,
    conda:
        "../../envs/torch.yaml"
    shell:
        "{PY} amoc.train.run --cache {input.cache} --split {input.split} {params.flow} "
        "{params.motion} --model-config {params.model} --train-config {params.train} "
        "--out {output} 2> {log}"


def eval_inputs(wildcards):
    job = PLAN.train_jobs[wildcards.train_hash]
    inputs = {
        "model": f"results/models/{job.dataset}/{job.train_hash}/split{wildcards.split}.pt",
        "cache": cache_dir(job.dataset),
        "split": f"results/splits/{job.dataset}/split{wildcards.split}.json",
    }
    if job.flow is not None and job.model["variant"] != "amoc":
        inputs["flow"] = flow_dir(job.dataset, job.flow)
    return inputs


rule evaluate:
    input:
        unpack(eval_inputs),
    output:
        "results/eval/{dataset}/{train_hash}/{eval_hash}/split{split}.parquet",
    params:
        eval=lambda w: as_json(PLAN.eval_jobs[(w.train_hash, w.eval_hash)].eval),
        flow=lambda w, input: optional_flag(input, "flow", "--flow-store"),
    log:
        "results/logs/evaluate/{dataset}_{train_hash}_{eval_hash}_split{split}.log",
    benchmark:
        "results/benchmarks/evaluate/{dataset}_{train_hash}_{eval_hash}_split{split}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        gpu=1,
    conda:
        "../../envs/torch.yaml"
    shell:
        "{PY} amoc.evaluate --model {input.model} --cache {input.cache} --split {input.split} "
        "{params.flow} --eval-config {params.eval} --dataset {wildcards.dataset} --out {output} 2> {log}"
