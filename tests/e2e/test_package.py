"""The wheel built from this tree contains every stage and runs a build on its own."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers import write_pipeline

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    (whl,) = out.glob("albumgen-*.whl")
    return whl


def test_wheel_contains_every_stage_module(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {p.relative_to(ROOT / "stages").as_posix() for p in (ROOT / "stages").rglob("*.py")}
    assert shipped, "no stage sources found"
    missing = sorted(s for s in shipped if f"albumgen/stages/{s}" not in names)
    assert missing == []
    engine = {p.relative_to(ROOT / "src").as_posix() for p in (ROOT / "src" / "albumgen").rglob("*.py")}
    assert sorted(e for e in engine if e not in names) == []
    assert "albumgen/starter.yaml" in names
    assert {"albumgen/review/review.css", "albumgen/review/review.js", "albumgen/review/play.js"} <= names
    templates = {f"albumgen/{p.relative_to(ROOT / 'src' / 'albumgen').as_posix()}"
                 for p in (ROOT / "src" / "albumgen" / "review" / "templates").glob("*.html")}
    assert templates and templates <= names
    assert any(n.endswith("entry_points.txt") for n in names)


def test_installed_wheel_builds_an_album(wheel, tmp_path):
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                        str(wheel)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    work = tmp_path / "elsewhere"
    work.mkdir()
    write_pipeline(work, {"album": {"tracks": 1}, "render": {"takes": 1}})
    env = {**os.environ, "PYTHONPATH": str(target), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    code = ("import albumgen, albumgen.stages, sys; print(albumgen.__file__); print(albumgen.stages.__file__);"
            "from albumgen.cli import main; sys.argv=['albumgen','build','pipeline.yaml']; main()")
    r = subprocess.run([sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    engine_file, stages_file = r.stdout.splitlines()[:2]
    assert engine_file.startswith(str(target)) and stages_file.startswith(str(target))
    assert len(list((work / "albums" / "test-album").glob("01 - *.mp3"))) == 1
