"""Resume, proven: a real build process is SIGKILLed mid-render and started again."""
from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import soundfile as sf
from helpers import kill_build_when, run_cli, write_pipeline

from albumgen.audio.ffmpeg import ffmpeg_exe
from albumgen.engine.store.manifest import Manifest

# batch_size 1 so takes are committed one at a time and the kill lands between them.
PIPELINE = {"album": {"tracks": 3}, "render": {"takes": 3, "duration": 2.0, "batch_size": 1}}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def render_records(album: Path) -> dict:
    # Read as `albumgen status` does while a build runs: no lock, snapshot plus journal.
    return {f"render/{r.unit}": r.model_dump() for r in Manifest(album).records("render")}


def album_files(album: Path) -> list[str]:
    return sorted(p.relative_to(album).as_posix() for p in album.rglob("*")
                  if p.is_file() and p.name not in ("events.jsonl", "lock"))


def test_sigkill_mid_render_then_resume(tmp_path):
    pipeline = write_pipeline(tmp_path, PIPELINE)
    album = tmp_path / "albums" / "test-album"
    kill_build_when(pipeline, lambda: len(render_records(album)) >= 2, "two takes were rendered")
    at_kill = render_records(album)
    assert 2 <= len(at_kill) < 9, "the kill must land while takes are rendering"
    files_at_kill = {rel: sha(album / rel) for rec in at_kill.values() for rel in rec["outputs"]}

    r = run_cli("build", str(pipeline))
    assert r.returncode == 0, r.stderr

    m = Manifest(album)
    # The resumed build's events only: the kill can land between a take's record and its
    # unit_done event, so the first build's events may lack a take it did record.
    events = m.events()
    events = events[max(i for i, e in enumerate(events) if e["event"] == "build_start"):]
    renders = [e["unit"] for e in events if e["event"] == "unit_done" and e["stage"] == "render"]
    # A take whose files were in place but not yet recorded at the kill is recovered from
    # its sidecar rather than rendered again.
    recovered = [e["unit"] for e in events if e["event"] == "unit_recovered" and e["stage"] == "render"]
    before = {key.split("/", 1)[1] for key in at_kill}
    # Every take recorded before the kill is neither rendered nor recovered again; every
    # other take is made exactly once by the resumed build.
    assert not before & (set(renders) | set(recovered))
    assert sorted(renders + recovered) == sorted({f"t0{t}/take-{n}" for t in (1, 2, 3) for n in (1, 2, 3)} - before)
    # ... and its files are byte-identical to what they were at the kill.
    for rel, digest in files_at_kill.items():
        assert sha(album / rel) == digest, rel
    # No temporary file survives.
    assert not [p for p in album.rglob(".*tmp*")]

    # Every file in the album decodes.
    for mp3 in album.glob("*.mp3"):
        out = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(mp3), "-f", "null", "-"],
                             capture_output=True, text=True)
        assert out.returncode == 0 and out.stderr == "", mp3
    for wav in album.rglob("*.wav"):
        assert sf.info(str(wav)).frames > 0

    # The same album as a build that was never interrupted.
    clean_dir = tmp_path / "clean"
    clean_dir.mkdir()
    clean = write_pipeline(clean_dir, PIPELINE)
    r = run_cli("build", str(clean))
    assert r.returncode == 0, r.stderr
    clean_album = clean_dir / "albums" / "test-album"
    assert album_files(album) == album_files(clean_album)
    for rel in album_files(album):
        if rel.endswith((".wav", ".codes")):
            assert sha(album / rel) == sha(clean_album / rel), rel  # same seeds, same takes

    # Nothing changed: nothing runs, and it says so.
    r = run_cli("build", str(pipeline))
    assert r.returncode == 0 and "Nothing to do" in r.stdout
