"""The event log rotates by size, keeps a bounded number of old segments, and every reader
(the whole log, the last events, the running build's events) reads across the segments."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from helpers import cli, write_pipeline

from albumgen.engine.store import events as log
from albumgen.engine.store.manifest import Manifest


@pytest.fixture
def small(monkeypatch):
    monkeypatch.setattr(log, "SEGMENT_BYTES", 2000)
    monkeypatch.setattr(log, "KEEP", 2)


def test_the_log_rotates_and_keeps_only_the_newest_segments(tmp_path, small):
    m = Manifest(tmp_path / "album")
    for i in range(400):
        m.event("build_start" if i == 150 else "tick", n=i)
    folder = m.events_path.parent
    names = sorted(p.name for p in folder.glob("events.jsonl*"))
    assert names == ["events.jsonl", "events.jsonl.1", "events.jsonl.2"]  # .3 and older dropped
    line = len(m.events_path.read_bytes().splitlines()[0]) + 1
    for p in folder.glob("events.jsonl*"):
        assert p.stat().st_size < 2000 + line  # a segment passes the limit by one line at most
    kept = [e["n"] for e in m.events()]
    assert kept == list(range(kept[0], 400)) and kept[0] > 0  # oldest first, no gap, the oldest gone
    assert len(kept) < 400 * 0.5
    assert m.last_events(1)[0]["n"] == 399
    # The last events, across the live segment and the ones before it.
    live = len(m.events_path.read_bytes().splitlines())
    assert m.last_events(live + 5) == m.events()[-(live + 5):]
    assert m.last_events(10_000) == m.events()


def test_the_running_builds_events_are_found_in_an_older_segment(tmp_path, small):
    m = Manifest(tmp_path / "album")
    m.event("build_start", n=-1)
    for i in range(60):
        m.event("unit_done", stage="render", n=i)
    assert (m.events_path.parent / "events.jsonl.1").exists()  # the build_start is no longer live
    since = m.events_since("build_start")
    assert since[0]["event"] == "build_start" and [e["n"] for e in since[1:]] == list(range(60))


def test_two_writers_rotating_lose_no_event(tmp_path):
    """A build and a choice on the review page both log: real processes, rotating under each other."""
    album = tmp_path / "album"
    code = textwrap.dedent(f"""
        import sys
        from albumgen.engine.store import events
        from albumgen.engine.store.manifest import Manifest
        events.SEGMENT_BYTES, events.KEEP = 3000, 1000  # keep them all: a lost line shows
        m = Manifest({str(album)!r})
        for i in range(300):
            m.event("tick", writer=sys.argv[1], n=i)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code, w]) for w in "ab"]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    seen = [(e["writer"], e["n"]) for e in Manifest(album).events()]
    assert sorted(seen) == sorted((w, i) for w in "ab" for i in range(300))  # each once
    for w in "ab":  # and each writer's own events in its order
        assert [n for x, n in seen if x == w] == list(range(300))
    assert len(list(album.glob("manifest/events.jsonl.*"))) > 5


def test_a_build_with_a_rotating_log_reads_back_whole(tmp_path, small, monkeypatch):
    monkeypatch.setattr(log, "SEGMENT_BYTES", 600)
    monkeypatch.setattr(log, "KEEP", 50)  # every segment kept: the build's whole story is readable
    path = write_pipeline(tmp_path, {"album": {"tracks": 1}, "render": {"takes": 2}, "executor": {"workers": 0}})
    r = cli("build", str(path))
    assert r.exit_code == 0, r.output
    m = Manifest(tmp_path / "albums" / "test-album")
    assert len(list(m.events_path.parent.glob("events.jsonl.*"))) >= 2
    names = [e["event"] for e in m.events()]
    assert names[0] == "build_start" and names[-1] == "build_done"
    assert names.count("unit_done") == m.last_events(1)[0]["units_ran"]
    r = cli("status", str(path))
    assert r.exit_code == 0 and "manifest missing" not in r.output, r.output
