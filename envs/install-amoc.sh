#!/usr/bin/env bash
# Post-deploy script of every env (envs/<env>.post-deploy.sh links here): Snakemake runs it inside
# the new env. AMOC_ROOT is the repository, set by workflow/rules/common.smk.
set -euo pipefail
python -m pip install --no-deps -e "${AMOC_ROOT:?run through the workflow}"
