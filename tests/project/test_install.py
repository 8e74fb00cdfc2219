"""The venv that `make` builds stays light: no CUDA wheels on a machine without a GPU."""
import importlib.metadata
import shutil
import subprocess

import pytest


def _has_nvidia_gpu() -> bool:
    smi = shutil.which("nvidia-smi")
    return bool(smi) and subprocess.run([smi, "-L"], capture_output=True).returncode == 0


@pytest.mark.skipif(_has_nvidia_gpu(), reason="a GPU machine keeps its normal CUDA torch")
def test_no_cuda_wheels_without_a_gpu():
    names = sorted({d.metadata["Name"] for d in importlib.metadata.distributions()})
    cuda = [n for n in names if n.lower().startswith(("nvidia-", "triton"))]
    assert cuda == [], f"CUDA wheels in a CPU machine's venv: {cuda}"
    import torch

    assert torch.version.cuda is None, f"torch {torch.__version__} is a CUDA build"
