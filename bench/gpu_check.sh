#!/usr/bin/env bash
# The GPU checks in one go, on a machine with a CUDA GPU: under 8 minutes on an
# H100/H200. Run from the repo root:
#
#   bash bench/gpu_check.sh              # on the GPU machine
#   bash bench/gpu_check.sh --dry-run    # anywhere: the tiny model on CPU, every step runs
#
# Steps: the CUDA tests; fp32 greedy tokens against transformers, bf16 batch invariance and
# state growth on `small`; medium bf16 batch 32 at 1504 steps (a 30 s window: ms/step,
# use_graphs, peak memory against kv_bytes_per_take) and batch 32 -> 3 -> 32 on one loop;
# then the side-by-side benchmark against transformers' generate (default, and static
# cache where transformers supports it for MusicGen) at 1504 steps. Every step's output goes
# to the terminal and to $OUT/<step>.log (default ./gpu-check); the summary at the end lists
# each step as ok or FAILED, and the exit status is 1 if any step failed, timed out, could
# not import, or (on a GPU) skipped a test.
set -uo pipefail
DRY=""
[[ "${1:-}" == "--dry-run" ]] && DRY="--dry-run"
OUT=${OUT:-gpu-check}
mkdir -p "$OUT"
PY=${PY:-python3}
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TRANSFORMERS_NO_ADVISORY_WARNINGS=1
# From the source tree, no install: a GPU machine may have no network.
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

# What the steps import, checked before anything runs, with what to install.
if ! $PY - <<'PYEOF'
import importlib.util, sys
need = {"torch": "torch (a CUDA build: https://pytorch.org/get-started/locally/)",
        "transformers": "transformers", "tokenizers": "tokenizers", "pytest": "pytest",
        "yaml": "pyyaml", "numpy": "numpy"}
missing = [how for mod, how in need.items() if importlib.util.find_spec(mod) is None]
if missing:
    print("gpu_check: missing Python packages: " + ", ".join(missing))
    print("gpu_check: install them, e.g. `" + sys.executable + " -m pip install " +
          " ".join(h.split(" ")[0] for h in missing) + "`, or set PY to a python that has them")
    sys.exit(1)
import torch, transformers
print(f"gpu_check: python {sys.version.split()[0]}, torch {torch.__version__} (CUDA {torch.version.cuda}), "
      f"transformers {transformers.__version__}")
PYEOF
then
    echo "gpu_check: FAILED before any step (see above)"
    exit 1
fi

if [[ -z "$DRY" ]]; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt" || {
        echo "gpu_check: FAILED: nvidia-smi does not run; is this a GPU machine? (--dry-run elsewhere)"; exit 1; }
    $PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" || {
        echo "gpu_check: FAILED: torch sees no CUDA device (a CPU build of torch?)"; exit 1; }
    MEDIUM=(--model medium --batch 32 --steps 1504 --check 0)
else
    MEDIUM=(--model tiny --batch 4 --steps 40 --check 0 --device cpu --dtype bfloat16)
fi

declare -a SUMMARY=()
FAILED=0
step() {  # step NAME SECONDS COMMAND...: run it under a time limit, log it, record ok/FAILED
    local name=$1 limit=$2
    shift 2
    echo "== $name (limit ${limit}s): $*"
    local t0=$SECONDS
    timeout "$limit" "$@" 2>&1 | grep -v "^\[transformers\]" | tee "$OUT/$name.log"
    local rc=${PIPESTATUS[0]} why=""
    if [[ $rc == 124 ]]; then why="timed out after ${limit}s"
    elif [[ $rc != 0 ]]; then why="exit $rc"
    elif [[ $name == tests && -z "$DRY" ]] && grep -qE "[0-9]+ skipped" "$OUT/$name.log"; then why="tests skipped on a GPU"
    elif grep -q "^FAIL: " "$OUT/$name.log"; then why="a check failed"
    fi
    if [[ -n "$why" ]]; then
        FAILED=1
        SUMMARY+=("FAILED  $name ($why, $((SECONDS - t0)) s)")
    else
        SUMMARY+=("ok      $name ($((SECONDS - t0)) s)")
    fi
}

step tests 120 $PY -m pytest -q -rs -p no:cacheprovider tests/test_models_gpu.py
step small 100 $PY bench/gpu_checks.py small $DRY
step medium 120 $PY bench/gpu_checks.py medium $DRY
step bench 200 $PY bench/render_throughput.py "${MEDIUM[@]}"

echo "== summary (${SECONDS} s in all; logs in $OUT/)"
printf '%s\n' "${SUMMARY[@]}" | tee "$OUT/summary.txt"
exit $FAILED
