"""A terminal's Ctrl-C to a catalogue on one frontier: every open album stops alike, keeps
what it finished, and the same command resumes them all without rendering a take twice."""
from __future__ import annotations

import os
import signal
import time

import pytest
from helpers import run_cli, write_pipeline
from processes import session, start_build, wait_gone

from albumgen.engine.store.manifest import AlbumLock, Manifest

pytestmark = pytest.mark.slow  # real builds with worker pools, a real signal

ALBUM = {"album": {"tracks": 2}, "render": {"takes": 2, "duration": 4.0, "batch_size": 2}}
NOISE = ("Traceback", "terminate called", "BrokenProcessPool", "KeyboardInterrupt", "Aborted")


def takes(album) -> int:
    return len(Manifest(album).records("render")) if (album / "manifest" / "journal.jsonl").exists() \
        or (album / "manifest" / "manifest.json").exists() else 0


def test_ctrl_c_stops_every_album_and_the_same_command_resumes_them(tmp_path):
    paths = [write_pipeline(tmp_path, {**ALBUM, "album": {**ALBUM["album"], "slug": s}}, name=f"{s}.yaml")
             for s in ("first", "second")]
    albums = [tmp_path / "albums" / s for s in ("first", "second")]
    proc = start_build(paths[0], str(paths[1]))
    try:
        deadline = time.monotonic() + 300
        while takes(albums[0]) < 2:  # the first album's first batch is in: both albums are open
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the build never got there"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    assert not [w for w in NOISE if w in err], err
    kept = sum(takes(a) for a in albums)
    assert kept >= 2
    assert err.splitlines()[-1] == f"Interrupted: kept {kept} takes over 2 albums; run the same build again to resume"
    assert wait_gone(session(proc.pid), 10) == []
    for album in albums:
        if (album / "manifest").is_dir():
            with AlbumLock(album / "manifest"):  # every album's lock was given back
                pass
    r = run_cli("build", *map(str, paths))
    assert r.returncode == 0, r.stderr
    assert "2 albums built" in r.stdout
    for album in albums:
        assert len(list(album.glob("*.mp3"))) == 2
        rendered = [e["unit"] for e in Manifest(album).events() if e["event"] == "unit_done" and e["stage"] == "render"]
        assert sorted(rendered) == sorted(set(rendered)) and len(rendered) == 4, "no take is rendered twice"
