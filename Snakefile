# amoc-bench: reproduces every table and figure of the AMOC paper. `snakemake --cores N`.
# The default config runs on the built-in synthetic dataset; see README.md for the paper preset.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/flow.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/evidence.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
        report_pages(),
