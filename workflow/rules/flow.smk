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
    # Flow stores and motion-net pre-trainings sit on the critical path of every
    # end-to-end model: schedule them before the trainings that can wait. A store (2 threads)
    # outranks two 1-thread pre-trainings together, so on 2 cores it is never passed over
    # for them (at 20 = 10 + 10 it was, and then waited for both cores to be free at once).
    priority: 50
    conda:
        "../../envs/flow.yaml"
    threads: 2
    resources:
        mem_mb=2000,
    params:
        plugin=lambda w: flow_plugin_flag(w.method),
        source=lambda w: flow_plugin_source(w.method),
    shell:
        "python -m amoc.flow.store --cache {input} --method {wildcards.method} "
        "--out results/flow/{wildcards.dataset}/{wildcards.method} "
        "--threads {threads} {params.plugin} 2> {log}"


rule pretrain_motion:
    input:
        unpack(pretrain_inputs),
    output:
        model="results/pretrain/{source}/{method}/w{width}_{colour}/{persons}.pt",
        curves="results/curves/pretrain/{source}/{method}/w{width}_{colour}/{persons}.json",
    log:
        "results/logs/pretrain/{source}_{method}_w{width}_{colour}_{persons}.log",
    benchmark:
        "results/benchmarks/pretrain/{source}_{method}_w{width}_{colour}_{persons}.tsv"
    wildcard_constraints:
        colour="rgb|yuv",
        persons=r"all|split\d+",
    priority: 10
    conda:
        "../../envs/torch.yaml"
    threads: 1  # one thread per job: a 2-core CPU runs two pre-trainings side by side
    resources:
        mem_mb=4000,
        gpu=1,
    params:
        gpu_slots=GPU_SLOTS,
        flow=lambda w, input: os.path.dirname(input.flow),
        split=lambda w, input: optional_flag(input, "split", "--split"),
        cfg=lambda w: as_json(resolve_pretrain(config)),
    shell:
        "OMP_NUM_THREADS={threads} {params.gpu_slots}python -m amoc.train.pretrain_motion --cache {input.cache} --flow-store {params.flow} "
        "--width {wildcards.width} --colour {wildcards.colour} {params.split} "
        "--pretrain-config {params.cfg} --out {output.model} --log-json {output.curves} 2> {log}"
