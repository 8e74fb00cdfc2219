"""A full disk at every write a build makes (the event log, the record journal, an MP3, its
tags, the cover) is exit 7 with one line naming the file, its folder and the space it needs,
and nothing already in the manifest is lost. A real tmpfs, filled to the byte: tmpfs counts
whole pages, so which write fails first is set by how many pages are left."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml
from helpers import write_pipeline

from albumgen.engine.store.manifest import Manifest

PAGE = os.sysconf("SC_PAGE_SIZE")
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("built")
    pipeline = write_pipeline(folder, {"album": {"tracks": 1}, "render": {"takes": 1, "duration": 3.0}})
    r = subprocess.run([sys.executable, "-m", "albumgen", "build", str(pipeline)], env=ENV, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return folder


@pytest.fixture
def disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {r.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def album(built, disk):
    """The built album on the small disk (times kept, as a build left them)."""
    shutil.copytree(built, disk / "a", symlinks=True)
    return disk / "a" / "pipeline.yaml", disk / "a" / "albums" / "test-album"


def free(mount) -> int:
    st = os.statvfs(mount)
    return st.f_bavail * st.f_frsize


def fill(mount, leave: int) -> None:
    """Leave exactly `leave` bytes (whole pages) free."""
    with open(mount / "filler", "wb") as f:
        os.posix_fallocate(f.fileno(), 0, free(mount) - leave)
    assert free(mount) == leave


def pad_last_page(path, room: int) -> None:
    """Append one valid event so that `room` bytes are left in the file's last page."""
    size = path.stat().st_size
    short = (PAGE - room - size - len('{"event":"padding","x":""}\n')) % PAGE
    with open(path, "a") as f:
        f.write('{"event":"padding","x":"' + "x" * short + '"}\n')
    assert -path.stat().st_size % PAGE == room


def build(pipeline, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "albumgen", *args, "build", str(pipeline)], env=ENV,
                          capture_output=True, text=True, timeout=600)


def records(album) -> dict:
    return {rid: rec.model_dump() for rid, rec in Manifest(album).state.records.items()}


def check_failed(r, album, name: str, folder, kept: dict) -> None:
    assert r.returncode == 7, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1 and errors[0] == r.stderr.splitlines()[-1], r.stderr
    assert re.fullmatch(rf"Error: cannot write {re.escape(name)} in {re.escape(str(folder))}: No space left on device; "
                        r"it needs [\d.]+ (bytes|kB|MB), [\d.]+ (bytes|kB|MB) free there \(free at least [\d.]+ "
                        r"(bytes|kB|MB) there, then run the same build again; every finished unit is kept\)",
                        errors[0]), errors[0]
    m = Manifest(album)
    assert {rid: rec for rid, rec in records(album).items() if rid in kept} == kept  # nothing recorded is lost
    assert all(m.outputs_intact(m.state.records[rid]) for rid in kept)
    assert [p for p in album.rglob(".*tmp*")] == []


def test_events(album, disk):
    pipeline, album = album
    pad_last_page(album / "manifest" / "events.jsonl", 0)
    kept = records(album)
    fill(disk, 0)
    check_failed(build(pipeline), album, "events.jsonl", album / "manifest", kept)


def test_journal(album, disk):
    pipeline, album = album
    m = Manifest(album)
    m.drop("pick", "t01")  # its sidecar brings it back: the build's first record
    m.compact()
    assert (album / "manifest" / "journal.jsonl").stat().st_size == 0
    pad_last_page(album / "manifest" / "events.jsonl", 2000)
    kept = records(album)
    fill(disk, 0)
    check_failed(build(pipeline), album, "journal.jsonl", album / "manifest", kept)


def set_master(pipeline, **values) -> None:
    data = yaml.safe_load(pipeline.read_text())
    data["master"].update(values)
    pipeline.write_text(yaml.safe_dump(data))


def test_mp3(album, disk):
    pipeline, album = album
    mp3 = next(album.glob("*.mp3"))
    assert mp3.stat().st_size > 12 * PAGE
    set_master(pipeline, loudness=-16.0)  # every track is mastered again
    pad_last_page(album / "manifest" / "events.jsonl", 3000)
    kept = records(album)
    fill(disk, 4 * PAGE)  # the config's own small writes fit, an MP3 does not
    check_failed(build(pipeline), album, mp3.name, album, kept)


def test_tags(album, disk):
    from mutagen.id3 import ID3

    pipeline, album = album
    mp3 = next(album.glob("*.mp3"))
    tag = ID3(mp3).size
    untagged = mp3.stat().st_size - tag
    assert tag > 16 * PAGE  # the cover art is most of it
    set_master(pipeline, loudness=-16.0)
    pad_last_page(album / "manifest" / "events.jsonl", 3000)
    kept = records(album)
    fill(disk, (untagged // PAGE + 1) * PAGE + 4 * PAGE + tag // 2 // PAGE * PAGE)  # the audio fits, its tags do not
    r = build(pipeline, "-v")
    check_failed(r, album, mp3.name, album, kept)
    assert "in tag_file" in r.stderr and "mutagen" in r.stderr  # failed writing the tags, not the audio


def test_cover(album, disk):
    pipeline, album = album
    cover = album / "cover.jpg"
    assert cover.stat().st_size > 4 * PAGE
    cover.unlink()  # made again first: the tracks' tags embed it
    pad_last_page(album / "manifest" / "events.jsonl", 3000)
    kept = {rid: rec for rid, rec in records(album).items() if rid != "master/cover"}
    fill(disk, 2 * PAGE)
    check_failed(build(pipeline), album, "cover.jpg", album, kept)
