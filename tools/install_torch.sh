#!/usr/bin/env bash
# Put torch into a venv without ever pulling a CUDA build onto a machine that has no GPU.
#   usage: tools/install_torch.sh PYTHON
# - torch already importable: keep it (a user's GPU machine keeps its normal torch).
# - an NVIDIA GPU is present: the normal torch from the index (CUDA build).
# - no GPU: the CPU build, TORCH_CPU_VERSION (default 2.13.0+cpu), found through pip's
#   find-links or an index the user points at with PIP_EXTRA_INDEX_URL. If no CPU build
#   can be found we stop instead of silently downloading gigabytes of CUDA wheels.
set -euo pipefail
PY=${1:?usage: install_torch.sh PYTHON}
if "$PY" -c "import torch" 2>/dev/null; then
  echo "torch $("$PY" -c 'import torch; print(torch.__version__)') already installed; keeping it"
  exit 0
fi
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  echo "NVIDIA GPU found: installing the normal (CUDA) torch"
  exec "$PY" -m pip install -q "torch>=2.1"
fi
want=${TORCH_CPU_VERSION:-2.13.0+cpu}
if "$PY" -m pip install -q "torch==$want"; then
  echo "no GPU: installed the CPU build torch $want"
  exit 0
fi
cat >&2 <<MSG
Error: no CPU build of torch ($want) found, and this machine has no NVIDIA GPU.
  Point pip at a CPU wheel (PIP_FIND_LINKS=/folder/with/wheel or PIP_EXTRA_INDEX_URL=<PyTorch CPU index>),
  set TORCH_CPU_VERSION, or install torch into $(dirname "$PY")/.. yourself, then run make again.
MSG
exit 1
