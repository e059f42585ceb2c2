#!/usr/bin/env bash
# The device check of issues 15 and 23, from the repository root; installs nothing, prints ONE table
# (python -m amoc.bench.gpu_check; rows in bench/README.md):
#   bash bench/gpu_check.sh                # a lent CUDA machine (H100/H200: at most 8 minutes)
#   bash bench/gpu_check.sh --device cpu   # dry run: tiny sizes on CPU, under a minute
# Needs torch (with CUDA for the real run), numpy, pandas, pyarrow, tqdm. The table and the log
# go to $OUT (default /tmp/amoc-gpu-check); lockstep rows not started after 400 s read
# "skipped", and the run stops after 470 s so that a hung step cannot eat the device time.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT_DIR=${OUT:-${TMPDIR:-/tmp}/amoc-gpu-check}
DEVICE=cuda
if [ "${1:-}" = "--device" ]; then DEVICE=${2:?"--device needs cuda or cpu"}; fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
mkdir -p "$OUT_DIR"

if [ "$DEVICE" = cpu ]; then
    # One thread per process: the concurrency rows start several on a small CPU.
    OMP_NUM_THREADS=1 "$PY" -m amoc.bench.gpu_check --device cpu --tiny \
        --out "$OUT_DIR/gpu_check_cpu.md" 2> "$OUT_DIR/gpu_check_cpu.log"
    exit $?
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
"| gpu", torch.cuda.get_device_name(0))' || exit 1
timeout 470 "$PY" -m amoc.bench.gpu_check --device cuda --out "$OUT_DIR/gpu_check_cuda.md" \
    2> >(tee "$OUT_DIR/gpu_check_cuda.log" >&2)
