"""bench/gpu_check.sh, ready for a session lent a GPU: its Python steps run (--dry-run: the
tiny model on CPU) and a missing dependency stops it loudly before any step."""
from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("which", ["small", "medium"])
def test_gpu_checks_dry_run_prints_every_measurement(which, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["gpu_checks.py", which, "--dry-run"])
    with pytest.raises(SystemExit) as done:
        runpy.run_path(str(ROOT / "bench" / "gpu_checks.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert done.value.code == 0, out
    assert "FAIL" not in out
    lines = [line.split(":")[0] for line in out.splitlines()]
    if which == "small":
        assert lines == ["greedy fp32, tiny, 17 frames", "invariance", "invariance", "growth", "small"]
        assert "albumgen vs transformers: identical" in out
        assert out.count("alone identical; other neighbours identical; alone padded to 4 rows identical") == 2
    else:
        assert lines == ["memory/speed", "memory/speed", "shapes", "shapes", "shapes", "medium"]
        assert "use_graphs=True, graphs_off=None" in out  # the CPU stand-in graphs ran
        assert out.count("tokens = eager") == 3


def test_gpu_check_stops_before_any_step_when_a_dependency_is_missing(tmp_path):
    # -S: a python without site-packages, so torch and the rest are missing.
    env = {**os.environ, "PY": f"{sys.executable} -S", "OUT": str(tmp_path)}
    done = subprocess.run(["bash", "bench/gpu_check.sh"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 1
    assert "gpu_check: missing Python packages: torch (a CUDA build" in done.stdout
    assert done.stdout.rstrip().endswith("gpu_check: FAILED before any step (see above)")
    assert "== tests" not in done.stdout
