# Per-split rows -> per-experiment summary -> tables and figures; HTML pages for the report.
# Input functions: report_inputs.smk.


rule collect:
    input:
        lambda w: [f for m in experiment_members(w.experiment) for f in eval_files(m)],
    output:
        rows="results/rows/{experiment}.parquet",
        summary="results/summary/{experiment}.parquet",
    log:
        "results/logs/collect/{experiment}.log",
    benchmark:
        "results/benchmarks/collect/{experiment}.tsv"
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        members=member_args,
    shell:
        "python -m amoc.report.collect --experiment {wildcards.experiment} {params.members} "
        "--rows {output.rows} --summary {output.summary} 2> {log}"


rule table:
    input:
        "results/summary/{experiment}.parquet",
    output:
        md="results/tables/{experiment}.md",
        tex="results/tables/{experiment}.tex",
        csv="results/tables/{experiment}.csv",
    log:
        "results/logs/table/{experiment}.log",
    benchmark:
        "results/benchmarks/table/{experiment}.tsv"
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        kind=lambda w: config["experiments"][w.experiment]["kind"],
        test_length=lambda w: report_test_length(w.experiment),
        labels=lambda w: plugin_labels(w.experiment),
        ran=lambda w: ran_text(w.experiment),
    shell:
        "python -m amoc.report.tables --summary {input} --table {params.kind} "
        "--test-length {params.test_length} {params.labels} --ran {params.ran} "
        "--experiment {wildcards.experiment} --name {wildcards.experiment} --out-dir results/tables 2> {log}"


rule figure:
    input:
        "results/summary/{experiment}.parquet",
    output:
        png=report(
            "results/figures/{experiment}.png",
            caption="../report/figure.rst",
            category="Figures",
        ),
        pdf="results/figures/{experiment}.pdf",
    log:
        "results/logs/figure/{experiment}.log",
    benchmark:
        "results/benchmarks/figure/{experiment}.tsv"
    wildcard_constraints:
        experiment="|".join(
            e for e, x in config["experiments"].items() if x["kind"] in FIGURE_KINDS
        )
        or "NONE",
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        kind=lambda w: config["experiments"][w.experiment]["kind"],
        test_length=lambda w: report_test_length(w.experiment),
        ran=lambda w: ran_text(w.experiment),
    shell:
        "python -m amoc.report.figures --summary {input} --figure {params.kind} "
        "--test-length {params.test_length} --ran {params.ran} "
        "--experiment {wildcards.experiment} --out results/figures/{wildcards.experiment} 2> {log}"


rule cmc_figure:
    input:
        "results/summary/{experiment}.parquet",
    output:
        png=report(
            "results/figures/{experiment}_cmc.png",
            caption="../report/figure.rst",
            category="CMC curves",
        ),
        pdf="results/figures/{experiment}_cmc.pdf",
    log:
        "results/logs/figure/{experiment}_cmc.log",
    benchmark:
        "results/benchmarks/figure/{experiment}_cmc.tsv"
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        test_length=lambda w: report_test_length(w.experiment),
    shell:
        "python -m amoc.report.figures --summary {input} --figure cmc "
        "--test-length {params.test_length} "
        "--experiment {wildcards.experiment} --out results/figures/{wildcards.experiment}_cmc 2> {log}"


rule fig5:
    input:
        unpack(fig5_inputs),
    output:
        png=report(
            "results/figures/fig5_{dataset}.png",
            caption="../report/fig5.rst",
            category="Figures",
        ),
        pdf="results/figures/fig5_{dataset}.pdf",
    log:
        "results/logs/figure/fig5_{dataset}.log",
    benchmark:
        "results/benchmarks/figure/fig5_{dataset}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        gpu=1,
    params:
        gpu_slots=GPU_SLOTS,
        flow=lambda w, input: os.path.dirname(input.flow),
        title=lambda w: shlex.quote(fig5_title(w.dataset)),
    shell:
        "OMP_NUM_THREADS={threads} {params.gpu_slots}python -m amoc.report.fig5 --motion-net {input.motion} --cache {input.cache} "
        "--flow-store {params.flow} --split {input.split} --title {params.title} "
        "--out results/figures/fig5_{wildcards.dataset} 2> {log}"


rule curves:
    input:
        unpack(curve_inputs),
    output:
        png=report(
            "results/figures/{experiment}_curves.png",
            caption="../report/curves.rst",
            category="Training curves",
            subcategory="{experiment}",
        ),
        pdf="results/figures/{experiment}_curves.pdf",
    log:
        "results/logs/figure/{experiment}_curves.log",
    benchmark:
        "results/benchmarks/figure/{experiment}_curves.tsv"
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        members=curve_args,
    shell:
        "python -m amoc.report.curves --experiment {wildcards.experiment} {params.members} "
        "--out results/figures/{wildcards.experiment}_curves 2> {log}"


rule ranked:
    input:
        unpack(ranked_inputs),
    output:
        png=report(
            "results/figures/ranked/{dataset}/{train_hash}_{eval_hash}.png",
            caption="../report/ranked.rst",
            category="Ranked results",
            subcategory="{dataset}",
            labels=ranked_labels,
        ),
        pdf="results/figures/ranked/{dataset}/{train_hash}_{eval_hash}.pdf",
    log:
        "results/logs/figure/ranked_{dataset}_{train_hash}_{eval_hash}.log",
    benchmark:
        "results/benchmarks/figure/ranked_{dataset}_{train_hash}_{eval_hash}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        args=ranked_params,
    shell:
        "OMP_NUM_THREADS={threads} python -m amoc.report.ranked --model {input.model} "
        "--cache {input.cache} --split {input.split} {params.args} "
        "--out results/figures/ranked/{wildcards.dataset}/{wildcards.train_hash}_{wildcards.eval_hash} 2> {log}"


rule page:
    input:
        "results/tables/{name}.md",
    output:
        report(
            "results/report/{name}.html",
            caption="../report/page.rst",
            category=page_category,
        ),
    log:
        "results/logs/page/{name}.log",
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=500,
    shell:
        "python -m amoc.report.pages --md {input} --out {output} 2> {log}"
