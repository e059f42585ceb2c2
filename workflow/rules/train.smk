# Training (per dataset x resolved variant x training = split and seed replicate) and
# evaluation (per evaluation setting).


rule train:
    input:
        unpack(train_inputs),
    output:
        model="results/models/{dataset}/{train_hash}/{training}.pt",
        curves="results/curves/train/{dataset}/{train_hash}/{training}.json",
    log:
        "results/logs/train/{dataset}_{train_hash}_{training}.log",
    benchmark:
        "results/benchmarks/train/{dataset}_{train_hash}_{training}.tsv"
    wildcard_constraints:
        train_hash=hash_pattern(single_train_hashes()),
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        gpu=1,
    params:
        gpu_slots=GPU_SLOTS,
        model=lambda w: as_json(PLAN.train_jobs[w.train_hash].model),
        train=lambda w: as_json(
            PLAN.train_jobs[w.train_hash].train
            | {"seed": training_seed(PLAN.train_jobs[w.train_hash], w.training)}
        ),
        flow=lambda w, input: optional_flag(input, "flow", "--flow-store"),
        motion=lambda w, input: optional_flag(input, "motion", "--motion-init"),
    shell:
        "OMP_NUM_THREADS={threads} {params.gpu_slots}python -m amoc.train.run --cache {input.cache} --split {input.split} {params.flow} "
        "{params.motion} --model-config {params.model} --train-config {params.train} "
        "--out {output.model} --log-json {output.curves} 2> {log}"


# Lockstep training (config `lockstep.enabled`): one job per group of a model's trainings,
# writing each training's ordinary checkpoint and curves (amoc.train.lockstep).
for shape_id, (names, hashes) in enumerate(lockstep_shapes(LOCKSTEP_GROUPS)):

    rule:
        name:
            f"train_lockstep{shape_id}"
        input:
            unpack(lockstep_inputs(names)),
        output:
            models=[f"results/models/{{dataset}}/{{train_hash}}/{n}.pt" for n in names],
            curves=[
                f"results/curves/train/{{dataset}}/{{train_hash}}/{n}.json"
                for n in names
            ],
        log:
            f"results/logs/train/{{dataset}}_{{train_hash}}_lockstep{shape_id}.log",
        wildcard_constraints:
            train_hash=hash_pattern(hashes),
        conda:
            "../../envs/torch.yaml"
        threads: 1
        resources:
            mem_mb=8000,
            gpu=1,
        params:
            gpu_slots=GPU_SLOTS,
            model=lambda w: as_json(PLAN.train_jobs[w.train_hash].model),
            train=lambda w: as_json(PLAN.train_jobs[w.train_hash].train),
            flow=lambda w, input: optional_flag(input, "flow", "--flow-store"),
            graphs="--cuda-graphs" if config["lockstep"].get("cuda_graphs") else "",
            members=lockstep_members(names),
        shell:
            "OMP_NUM_THREADS={threads} {params.gpu_slots}python -m amoc.train.lockstep --cache {input.cache} {params.flow} "
            "--model-config {params.model} --train-config {params.train} {params.graphs} "
            "{params.members} 2> {log}"


rule evaluate:
    input:
        unpack(eval_inputs),
    output:
        "results/eval/{dataset}/{train_hash}/{eval_hash}/{training}.parquet",
    log:
        "results/logs/evaluate/{dataset}_{train_hash}_{eval_hash}_{training}.log",
    benchmark:
        "results/benchmarks/evaluate/{dataset}_{train_hash}_{eval_hash}_{training}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        gpu=1,
    params:
        gpu_slots=GPU_SLOTS,
        eval=lambda w: as_json(PLAN.eval_jobs[(w.train_hash, w.eval_hash)].eval),
        flow=lambda w, input: optional_flag(input, "flow", "--flow-store"),
    shell:
        "OMP_NUM_THREADS={threads} {params.gpu_slots}python -m amoc.eval.evaluate --model {input.model} --cache {input.cache} --split {input.split} "
        "{params.flow} --eval-config {params.eval} --dataset {wildcards.dataset} --out {output} 2> {log}"
