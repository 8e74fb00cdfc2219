"""Resume after a crash in pick or in master, proven like render's (test_resume.py): a real
build process is SIGKILLed while the stage is half done, and the next build redoes only
the units that had not been recorded; what was recorded stays byte for byte."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from helpers import kill_build_when, run_cli, write_pipeline

from albumgen import registry
from albumgen.engine.store.manifest import Manifest

TRACKS = 4
PIPELINE = {"album": {"tracks": TRACKS}, "render": {"takes": 2, "duration": 1.0}}


def records(album: Path, stage: str) -> dict:
    """The stage's records as a concurrent reader sees them (the journal included)."""
    if not (album / "manifest").is_dir():
        return {}
    return {r.unit: r.model_dump(mode="json") for r in Manifest(album).records(stage)}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("stage, until, first, last", [
    ("pick", "render", {"t01", "t02", "t03", "t04"}, "t04"),  # one unit per track
    ("master", "pick", {"t01", "t02", "t03", "t04"}, "album"),  # cover, tracks, then the album unit
])
def test_sigkill_mid_stage_then_resume(tmp_path, stage, until, first, last):
    pipeline = write_pipeline(tmp_path, PIPELINE)
    album = tmp_path / "albums" / "test-album"
    r = run_cli("build", str(pipeline), "--until", until)
    assert r.returncode == 0, r.stderr
    kill_build_when(pipeline, lambda: bool(first & set(records(album, stage))), f"a {stage} unit finished",
                    limit=300, poll=0.01)
    at_kill = records(album, stage)
    assert first & set(at_kill) and last not in at_kill, f"the kill must land while {stage} runs: {sorted(at_kill)}"
    files_at_kill = {rel: sha(album / rel) for rec in at_kill.values() for rel in rec["outputs"]}
    events_before = len(Manifest(album).events())

    r = run_cli("build", str(pipeline))
    assert r.returncode == 0, r.stderr
    ran = [(e["stage"], e["unit"]) for e in Manifest(album).events()[events_before:] if e["event"] == "unit_done"]
    redone = [u for s, u in ran if s == stage]
    # Units whose files were written by a worker but not yet recorded by the driver come
    # back from their sidecars (albumgen.engine.store.recovery) instead of running again.
    recovered = [e["unit"] for e in Manifest(album).events()[events_before:]
                 if e["event"] == "unit_recovered" and e["stage"] == stage]
    # Only the units not yet recorded ran again (the album unit of master always follows
    # its tracks); downstream stages follow, nothing upstream runs.
    assert not set(redone) & (set(at_kill) - {"album"}), redone
    assert not set(recovered) & set(at_kill) and not set(recovered) & set(redone)
    names = registry.stage_names()
    assert not {s for s, _ in ran} & set(names[:names.index(stage)]), ran  # nothing upstream ran
    assert set(records(album, stage)) == set(at_kill) | set(redone) | set(recovered)
    for rel, digest in files_at_kill.items():
        if not rel.endswith((".m3u8", "album.json")):
            assert sha(album / rel) == digest, rel
    assert not [p for p in album.rglob("*") if ".tmp" in p.name or p.name.startswith(".")], "a temp file survived"
    assert len(list(album.glob("*.mp3"))) == TRACKS
    r = run_cli("build", str(pipeline))
    assert r.returncode == 0 and "Nothing to do" in r.stdout
