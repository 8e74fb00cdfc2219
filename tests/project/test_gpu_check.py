"""bench/gpu_check.sh, ready for a GPU machine rented for minutes: its dry run (tiny models on
CPU) runs every item end to end, importing nothing the GPU image lacks, inside its deadline."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

# What the GPU image does not have (it has torch, transformers, numpy, scipy, pyyaml, pytest,
# rich, jinja2), and albumgen's stages, which only an install brings (it runs from src/).
ABSENT = ("soundfile", "pydantic", "librosa", "diffusers", "openai", "mutagen", "albumgen.stages")
BLOCKER = '''
import importlib.abc, importlib.util, sys
ABSENT = {absent!r}
def _absent(name):
    return any(name == a or name.startswith(a + ".") for a in ABSENT)
class _Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if _absent(name):
            raise ModuleNotFoundError(f"No module named {{name!r}} (not on the GPU image)", name=name)
        return None
sys.meta_path.insert(0, _Absent())
_find_spec = importlib.util.find_spec
def find_spec(name, package=None):  # availability probes (transformers') see it absent too
    return None if _absent(name) else _find_spec(name, package)
importlib.util.find_spec = find_spec
'''


def image_env(tmp_path: Path, **extra) -> dict:
    """The environment of a GPU image: those modules absent, albumgen from src/ only."""
    site = tmp_path / "image"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCKER.format(absent=ABSENT))
    return {**os.environ, "PYTHONPATH": str(site), "PY": sys.executable, "OUT": str(tmp_path / "out"),
            "OMP_NUM_THREADS": "1", **extra}


def test_the_image_environment_really_hides_those_modules(tmp_path):
    probe = "import importlib.util, soundfile; print(importlib.util.find_spec('pydantic'))"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0  # here they exist
    hidden = subprocess.run([sys.executable, "-c", probe], env=image_env(tmp_path), capture_output=True, text=True)
    assert hidden.returncode == 1 and "No module named 'soundfile' (not on the GPU image)" in hidden.stderr


def read(out: Path) -> list[dict]:
    with open(out / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow  # the whole check script, each item in a child process
def test_dry_run_runs_every_item_without_what_the_gpu_image_lacks(tmp_path):
    done = subprocess.run(["bash", "bench/gpu_check.sh", "--dry-run"], cwd=ROOT, env=image_env(tmp_path),
                          capture_output=True, text=True, timeout=400)
    out = tmp_path / "out"
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = read(out)
    bad = [r for r in rows if r["status"] not in ("ok", "skipped")]
    assert not bad, bad
    skipped = {(r["section"], r["item"]) for r in rows if r["status"] == "skipped"}
    # On CPU only the kernel profile (no kernels) and ACE-Step (no diffusers) are skipped.
    assert {s for s, _ in skipped} <= {"env", "acestep"} and ("acestep", "song") in skipped
    sections = list(dict.fromkeys(r["section"] for r in rows))
    assert sections == ["env", "tests", "sweep", "graphs off", "transformers", "numerics", "checks", "attention",
                        "acestep"]
    assert [r["item"] for r in rows if r["section"] == "attention"] == ["small b1 MATH", "small b1 ROWWISE"]
    sweep = [r for r in rows if r["section"] == "sweep"]
    assert sweep[0]["model"] == "medium" and len(sweep) == 11 and all(r["graphs"] == "on" for r in sweep)
    assert all(float(r["ms_step"]) > 0 and float(r["takes_s"]) > 0 for r in sweep)
    assert [r["graphs"] for r in rows if r["section"] == "graphs off"] == ["off", "off"]
    tests = next(r for r in rows if r["section"] == "tests")
    assert "skipped" in tests["value"] and "error" not in tests["value"]  # collected, imported, skipped on CPU
    assert "albumgen vs transformers greedy fp32" in {r["item"] for r in rows}
    files = sorted(p.name for p in out.rglob("*") if p.is_file())
    assert files == ["log.txt", "results.csv", "summary.md"]  # the GPU machine sends back at most 8
    summary = (out / "summary.md").read_text()
    assert "## sweep" in summary and "| medium b4 | medium | bf16 | 4 | on |" in summary
    assert "No module named" not in (out / "log.txt").read_text()


def test_past_the_deadline_every_item_is_skipped_and_the_run_ends_cleanly(tmp_path):
    done = subprocess.run(["bash", "bench/gpu_check.sh", "--dry-run"], cwd=ROOT,
                          env=image_env(tmp_path, GPU_CHECK_DEADLINE="0"), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = read(tmp_path / "out")
    assert rows and all(r["status"] == "skipped" for r in rows)
    assert "0 s left of the deadline" in rows[0]["note"]


def test_a_measurement_past_its_own_limit_is_cut_and_reported_partial(tmp_path):
    import gpu_check

    check = gpu_check.Check(gpu_check.DRY, tmp_path, deadline=300)
    try:
        row = check.speed("sweep", "small", 1, True, limit=0.0, frames=60)  # 63 steps, progress every 25
    finally:
        check.close()
    assert row["status"] == "partial" and row["steps"] == 25 and row["note"].startswith("partial: 25 of 63 steps")


def test_engine_constants_are_the_render_engine_s():
    import gpu_check

    from albumgen.stages.render.engine import GPU_MEMORY_SHARE, MAX_BATCH

    assert gpu_check.engine_constants() == (GPU_MEMORY_SHARE, MAX_BATCH)
