# amoc-bench: reproduces every table and figure of the AMOC paper. `snakemake --cores N`.
# The default config runs on the built-in synthetic dataset; see README.md for the paper preset.
import sys

from snakemake.utils import min_version

from amoc.data.fetch import check_manual_inputs
from amoc.job_errors import console_report

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/flow.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/report_inputs.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/evidence.smk"


# Hand-downloaded archives and folders (PRID-2011, MARS) are checked now, before any job runs.
check_manual_inputs(
    config["datasets"],
    [d for x in config["experiments"].values() for d in x["datasets"]],
)


onerror:
    # Snakemake says only "check log file(s)": print each failed job's own error message.
    text = console_report(log)
    if text:
        print(
            f"\nErrors of the failed jobs (from their logs):\n{text}",
            file=sys.stderr,
        )


rule all:
    default_target: True
    input:
        all_outputs(),
        report_pages(),
