"""Resume after SIGKILL during an ACE-Step render: a real build process is killed between
takes and started again; recorded takes are kept byte for byte, the rest made once, and the
album equals one built without a kill."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import run_cli, write_pipeline

from albumgen.engine.store.manifest import Manifest

pytest.importorskip("diffusers")

# batch_size 1 so takes are committed one at a time and the kill lands between them.
PIPELINE = {"album": {"tracks": 2}, "render": {"backend": "acestep", "model": "tiny-acestep", "takes": 3,
                                               "duration": 2.0, "batch_size": 1, "device": "cpu"}}
ALL = {f"t0{t}/take-{n}" for t in (1, 2) for n in (1, 2, 3)}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def records(album: Path) -> dict:
    return {r.unit: r.model_dump() for r in Manifest(album).records("render")}


def test_sigkill_during_an_acestep_render_then_resume(tmp_path):
    pipeline = write_pipeline(tmp_path, PIPELINE)
    album = tmp_path / "albums" / "test-album"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "albumgen", "build", str(pipeline)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    try:
        while len(records(album)) < 1:
            assert proc.poll() is None, "build finished before it could be killed"
            assert time.monotonic() < deadline, "no take was rendered in time"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    at_kill = records(album)
    assert 1 <= len(at_kill) < len(ALL), "the kill must land while takes are rendering"
    files_at_kill = {rel: sha(album / rel) for rec in at_kill.values() for rel in rec["outputs"]}

    r = run_cli("build", str(pipeline))
    assert r.returncode == 0, r.stderr
    events = Manifest(album).events()
    events = events[max(i for i, e in enumerate(events) if e["event"] == "build_start"):]
    made = [e["unit"] for e in events if e["event"] in ("unit_done", "unit_recovered") and e["stage"] == "render"]
    assert sorted(made) == sorted(ALL - set(at_kill))  # each missing take made once, none again
    for rel, digest in files_at_kill.items():
        assert sha(album / rel) == digest, rel
    assert not list(album.rglob(".*tmp*"))

    clean_dir = tmp_path / "clean"
    clean_dir.mkdir()
    r = run_cli("build", str(write_pipeline(clean_dir, PIPELINE)))
    assert r.returncode == 0, r.stderr
    clean = clean_dir / "albums" / "test-album" / "manifest" / "takes"
    for p in sorted((album / "manifest" / "takes").rglob("*")):
        if p.suffix in (".wav", ".latents"):
            assert sha(p) == sha(clean / p.relative_to(album / "manifest" / "takes")), p.name  # same seeds, same takes
