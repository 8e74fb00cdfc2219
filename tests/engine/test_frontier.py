"""The frontier scheduler and the local executor: units flow as soon as their inputs exist."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from helpers import cli, write_pipeline

from albumgen.engine.store.manifest import AlbumLock, Manifest

# batch_size 2 = one track's takes per batch, so a track is done while the next renders;
# 6 s takes, so rendering dominates (as it does with a real model): the first track's pick
# and master (two workers: the cover does not hold the pick up) finish well before the last
# four batches, even on a loaded machine.
TRACKS = ("t01", "t02", "t03", "t04", "t05")
PIPELINED = {"album": {"tracks": len(TRACKS)}, "render": {"takes": 2, "batch_size": 2, "duration": 6.0},
             "executor": {"workers": 2}}


def album_files(album: Path) -> dict[str, str]:
    # notices.json is bookkeeping of what was said, and a notice a process has said once
    # (a scorer skipped) it does not say again for the next album it builds.
    skip = ("events.jsonl", "lock", "manifest.json", "journal.jsonl", "notices.json")
    return {p.relative_to(album).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(album.rglob("*")) if p.is_file() and p.name not in skip}


@pytest.fixture(scope="module")
def pipelined(tmp_path_factory):
    folder = tmp_path_factory.mktemp("frontier")
    pipeline = write_pipeline(folder, PIPELINED)
    r = cli("build", str(pipeline))
    assert r.exit_code == 0, r.output
    return pipeline, folder / "albums" / "test-album"


@pytest.mark.slow  # a worker pool's build
def test_a_track_is_mastered_while_later_takes_render(pipelined):
    _, album = pipelined
    events = Manifest(album).events()
    # What the scheduler decides, whatever the machine's speed: t01's pick is submitted as
    # soon as t01's takes are in, long before the last take is rendered.
    last_render_at = max(i for i, e in enumerate(events) if e["event"] == "unit_done" and e["stage"] == "render")
    pick_t01_at = next(i for i, e in enumerate(events) if e["event"] == "units_submitted" and e["stage"] == "pick")
    assert events[pick_t01_at]["units"] == ["t01"] and pick_t01_at < last_render_at
    # When it *finishes* depends on the machine (a worker's first unit imports the analysis
    # libraries), and so does when t01 is analysed and mastered: bench/pipeline.py measures it.
    # That it plans t01's mastering without waiting for t05 is test_master_stage's
    # test_a_track_is_mastered_before_later_tracks_are_picked. The cover needs nothing but
    # the tracklist: it is submitted with the first takes, before any of them is done.
    first_render_done = next(i for i, e in enumerate(events) if e["event"] == "unit_done" and e["stage"] == "render")
    assert any(e["event"] == "units_submitted" and e["stage"] == "master" and e["units"] == ["cover"]
               for e in events[:first_render_done])
    done = [(e["stage"], e["unit"]) for e in events if e["event"] == "unit_done"]
    # ... and no track is picked before its own takes, nor mastered before its own pick.
    for tid in TRACKS:
        takes = [i for i, (s, u) in enumerate(done) if s == "render" and u.startswith(tid + "/")]
        assert max(takes) < done.index(("pick", tid)) < done.index(("master", tid))
    assert done.index(("master", "album")) == len(done) - 1  # the playlist waits for every track


@pytest.mark.slow  # a worker pool's build
def test_cpu_units_in_worker_processes_make_the_same_album(tmp_path):
    # Pick and master in a worker process (batches of 2) or in the driver (batches of 1).
    albums = []
    for name, over in (("pool", {"batch_size": 2, "workers": 1}), ("driver", {"batch_size": 1, "workers": 0})):
        (tmp_path / name).mkdir()
        pipeline = write_pipeline(tmp_path / name, {"album": {"tracks": 3}, "render": {"batch_size": over["batch_size"]},
                                                    "executor": {"workers": over["workers"]}})
        r = cli("build", str(pipeline))
        assert r.exit_code == 0, r.output
        albums.append(tmp_path / name / "albums" / "test-album")
    here, album = albums
    ours, theirs = album_files(here), album_files(album)
    assert ours.keys() == theirs.keys()
    differ = [rel for rel in ours if ours[rel] != theirs[rel]]
    # Take sidecars and master reports note the batch and the seconds; every audio file,
    # token file, pick choice and MP3 is byte for byte the same.
    assert all(rel.endswith(".json") for rel in differ), differ
    for tid in ("t01", "t02", "t03"):
        assert Manifest(here).record("pick", tid).data == Manifest(album).record("pick", tid).data


@pytest.mark.slow  # a worker pool's build
def test_status_reads_while_a_build_holds_the_album(pipelined):
    pipeline, album = pipelined
    with AlbumLock(album / "manifest"):
        r = cli("status", str(pipeline))
    assert r.exit_code == 0, r.output
    assert "render: 10/10 takes done" in r.output and "pick: 5/5 units done" in r.output


def test_catalogue_preflights_every_album_before_any_work(tmp_path):
    a = write_pipeline(tmp_path, {"album": {"tracks": 1, "slug": "a"}, "render": {"takes": 1}}, name="a.yaml")
    b = write_pipeline(tmp_path, {"album": {"tracks": 1, "slug": "b"}, "render": {"takes": 1}}, name="b.yaml")
    bad = write_pipeline(tmp_path, {"album": {"slug": "c"}, "render": {"takes": 0}}, name="c.yaml")
    r = cli("build", str(a), str(b), str(bad))
    assert r.exit_code == 2
    assert r.stderr.strip() == "Error: render.takes: must be >= 1 (fix c.yaml)"
    assert not (tmp_path / "albums").exists()  # nothing ran, not even the good albums
    same = write_pipeline(tmp_path, {"album": {"tracks": 1, "slug": "a"}}, name="same.yaml")
    r = cli("build", str(a), str(same))
    assert r.exit_code == 2 and "two pipelines write one album folder" in r.stderr
    r = cli("build", str(a), str(b))
    assert r.exit_code == 0, r.output
    for slug in ("a", "b"):
        assert len(list((tmp_path / "albums" / slug).glob("*.mp3"))) == 1
