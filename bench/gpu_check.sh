#!/usr/bin/env bash
# The GPU check, for a GPU machine rented for minutes: one Python process
# (bench/gpu_check.py) with its own deadline, from the source tree, no install.
#
#   bash bench/gpu_check.sh              # on the GPU machine; results in $OUT (default ./gpu-check)
#   bash bench/gpu_check.sh --dry-run    # anywhere: tiny models on CPU, every item runs
#
# GPU_CHECK_DEADLINE (default 420 s) is when the script stops starting work; `timeout` is only
# the backstop for a hang, well past it. Files in $OUT: results.csv (a row per measurement),
# summary.md (tables to paste), log.txt (everything printed, tracebacks, the tests' output).
set -uo pipefail
PY=${PY:-python3}
OUT=${OUT:-gpu-check}
DEADLINE=${GPU_CHECK_DEADLINE:-420}
export OUT GPU_CHECK_DEADLINE=$DEADLINE
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TRANSFORMERS_NO_ADVISORY_WARNINGS=1
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$OUT"
timeout -k 10 $((${DEADLINE%.*} + 110)) $PY bench/gpu_check.py "$@"
rc=$?
[[ $rc == 124 || $rc == 137 ]] && echo "gpu_check: killed by the backstop timeout; what was measured is in $OUT/"
exit $rc
