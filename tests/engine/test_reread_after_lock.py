"""A build reads the album's records after it takes the lock, not when it opened the album:
a catalogue opens every album up front, and album b may be built by hand meanwhile."""
from __future__ import annotations

import subprocess
import sys

import pytest
from helpers import run_cli, write_pipeline

from albumgen.engine import runner
from albumgen.engine.store.manifest import Manifest


def units_done(album, since: int = 0) -> list[tuple[str, str]]:
    return [(e["stage"], e["unit"]) for e in Manifest(album).events()[since:] if e["event"] == "unit_done"]


@pytest.mark.slow  # a build in a child process
def test_catalogue_does_not_redo_an_album_built_by_hand_meanwhile(tmp_path):
    a = write_pipeline(tmp_path, {"album": {"slug": "a", "tracks": 1}, "render": {"takes": 1}}, name="a.yaml")
    b = write_pipeline(tmp_path, {"album": {"slug": "b", "tracks": 1}, "render": {"takes": 1}}, name="b.yaml")
    # What `albumgen build a.yaml b.yaml` does: open and check every album first...
    ctxs = [runner.open_pipeline(p, progress=False) for p in (a, b)]
    runner.preflight_all(ctxs)
    # ...and while it works on a, someone builds b by hand in another process.
    by_hand = subprocess.Popen([sys.executable, "-m", "albumgen", "build", str(b)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert runner.build(ctxs[0]).ran > 0
    assert by_hand.wait(timeout=600) == 0, by_hand.stderr.read()
    album_b = ctxs[1].album_dir
    by_hand_records = {rid: rec.key for rid, rec in Manifest(album_b).state.records.items()}
    assert len(units_done(album_b)) == len(by_hand_records) > 0
    n = len(Manifest(album_b).events())

    report = runner.build(ctxs[1])  # the catalogue reaches b
    assert report.ran == 0 and units_done(album_b, n) == []
    assert not [e for e in Manifest(album_b).events()[n:] if e["event"] == "unit_recovered"]
    assert {rid: rec.key for rid, rec in Manifest(album_b).state.records.items()} == by_hand_records


@pytest.mark.slow  # a build in a child process
def test_repair_reads_records_committed_after_the_album_was_opened(tmp_path):
    pipeline = write_pipeline(tmp_path, {"album": {"tracks": 1}, "render": {"takes": 1}})
    ctx = runner.open_pipeline(pipeline, progress=False)
    r = run_cli("build", str(pipeline))
    assert r.returncode == 0, r.stderr
    before = Manifest(ctx.album_dir).state.records
    recovered = runner.repair(ctx)
    assert recovered and set(recovered.values()) == {0}  # nothing was missing
    assert Manifest(ctx.album_dir).state.records == before
