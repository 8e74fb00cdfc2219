#!/usr/bin/env bash
# The whole GPU check in one go, sized for a ~15-minute lent GPU: the CUDA-only tests, then
# the render benchmark on the configurations (small b1, medium b32, 500 steps).
# Run from the repo root on the GPU machine; logs land in $OUT (or ./gpu-check/).
set -uo pipefail
OUT=${OUT:-gpu-check}
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
PY=${PY:-python3}
# Only albumgen.models is exercised here, and it needs just torch, transformers and
# tokenizers, which a CUDA image has: no install step, so it runs with no network too.
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
$PY -m pytest -q tests/test_models_gpu.py 2>&1 | tee "$OUT/gpu-tests.log"
$PY bench/render_throughput.py --model small --batch 1 --steps 500 2>&1 | tee "$OUT/bench-small.log"
$PY bench/render_throughput.py --model medium --batch 32 --steps 500 2>&1 | tee "$OUT/bench-medium.log"
