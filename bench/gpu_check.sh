#!/usr/bin/env bash
# GPU check for a lent CUDA machine, from the repository root: about 5 minutes on one H100/H200.
#   1. the fast-path tests on CUDA (bf16 autocast + channels_last, compile, a batched epoch);
#   2. the full benchmark table: python -m amoc.bench --device cuda;
#   3. the training rows again with torch.compile (skipped with NO_COMPILE=1).
# Needs torch with CUDA, numpy, pandas, pyarrow, opencv-python-headless, tqdm, pytest. Without
# opencv-contrib the 'lk' and 'epic' flow rows say "skipped". Tables and logs go to $OUT
# (default /tmp/amoc-gpu-check); each step has its own time limit, so a slow step cannot eat
# the others' time.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT_DIR=${OUT:-${TMPDIR:-/tmp}/amoc-gpu-check}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
mkdir -p "$OUT_DIR"
status=0

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" -c 'import cv2, torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
"| gpu", torch.cuda.get_device_name(0), "| opencv", cv2.__version__,
"| contrib", hasattr(cv2, "ximgproc") and hasattr(cv2, "optflow"))' || exit 1

echo "== 1/3 fast-path tests on CUDA"
timeout 150 "$PY" -m pytest -q -rs -p no:cacheprovider tests/test_fastpath.py \
    2>&1 | tee "$OUT_DIR/fastpath.log" || status=1

echo "== 2/3 benchmark table (no torch.compile)"
timeout 200 "$PY" -m amoc.bench --device cuda --out "$OUT_DIR/bench_cuda.md" \
    2>&1 | tee "$OUT_DIR/bench_cuda.log" || status=1

if [ "${NO_COMPILE:-0}" != 1 ]; then
    echo "== 3/3 training rows with torch.compile (batched mode)"
    timeout 200 "$PY" -m amoc.bench --device cuda --compile --sections train \
        --out "$OUT_DIR/bench_cuda_compile.md" 2>&1 | tee "$OUT_DIR/bench_cuda_compile.log" \
        || status=1
fi
exit "$status"
