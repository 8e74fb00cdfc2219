"""Faults that must not cost finished work: a write the disk refuses mid-take, and a build
stopped by Ctrl-C or SIGTERM. Real child processes, a real file size limit, real signals."""
from __future__ import annotations

import errno
import os
import re
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from helpers import run_cli, write_pipeline
from llm_server import LLMServer, chat, tracklist_json

from albumgen.engine.store import atomic
from albumgen.engine.store.manifest import Manifest
from albumgen.errors import OutputError

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def render_records(album: Path) -> dict:
    # Read as `albumgen status` does while a build runs: no lock, snapshot plus journal.
    return {f"render/{r.unit}": r.model_dump() for r in Manifest(album).records("render")}


def renders_done(album: Path, event: str = "unit_done") -> list[str]:
    return [e["unit"] for e in Manifest(album).events() if e["event"] == event and e["stage"] == "render"]


def temp_files(album: Path) -> list[Path]:
    return [p for p in album.rglob(".*tmp*")]


def set_takes(pipeline: Path, takes: int) -> None:
    data = yaml.safe_load(pipeline.read_text())
    data["render"]["takes"] = takes
    pipeline.write_text(yaml.safe_dump(data))


# -- a write the disk refuses -----------------------------------------------------------------
def test_file_size_limit_mid_take_then_resume(tmp_path):
    pipeline = write_pipeline(tmp_path, {"render": {"duration": 2.0}})
    album = tmp_path / "albums" / "test-album"
    r = run_cli("build", str(pipeline))
    assert r.returncode == 0, r.stderr
    kept = {rel: (album / rel).read_bytes() for rec in render_records(album).values() for rel in rec["outputs"]}
    wav = (album / "manifest/takes/t01/take-1.wav").stat().st_size
    limit = wav // 2
    # Every file the failing build appends to before the take (journal, events) fits under it.
    assert max((album / "manifest" / n).stat().st_size for n in ("journal.jsonl", "events.jsonl")) < limit // 2

    set_takes(pipeline, 3)  # one more take per track: the build must write a new WAV

    def limited() -> None:
        # As on a full disk: the write fails (EFBIG) instead of the kernel killing the process.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run([sys.executable, "-m", "albumgen", "build", str(pipeline)], env=ENV, capture_output=True,
                          text=True, timeout=600, preexec_fn=limited)
    assert proc.returncode == 7, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("Error:")]
    folder = album / "manifest" / "takes" / "t01"
    assert len(errors) == 1 and errors[0] == proc.stderr.splitlines()[-1], proc.stderr
    assert re.fullmatch(
        rf"Error: cannot write take-3\.wav in {re.escape(str(folder))}: File too large; it needs \d+\.\d kB, "
        r"[\d.]+ [kMG]B free there \(raise the file size limit \(ulimit -f\) or use another filesystem, "
        r"then run the same build again\)", errors[0]), errors[0]
    assert temp_files(album) == []
    assert not (folder / "take-3.wav").exists()
    assert {rel: (album / rel).read_bytes() for rel in kept} == kept  # every recorded take as it was

    # Limit lifted: the build resumes, and no recorded take is rendered again.
    r = run_cli("build", str(pipeline))
    assert r.returncode == 0, r.stderr
    done = renders_done(album)
    assert sorted(done) == ["t01/take-1", "t01/take-2", "t01/take-3", "t02/take-1", "t02/take-2", "t02/take-3"]
    assert {rel: (album / rel).read_bytes() for rel in kept} == kept
    assert temp_files(album) == []


def test_file_size_limit_while_ffmpeg_writes_an_mp3(tmp_path):
    pipeline = write_pipeline(tmp_path, {"album": {"tracks": 1}, "render": {"takes": 1}})
    album = tmp_path / "albums" / "test-album"
    r = run_cli("build", str(pipeline))
    assert r.returncode == 0, r.stderr
    mp3 = next(album.glob("*.mp3"))
    before = mp3.read_bytes()
    data = yaml.safe_load(pipeline.read_text())
    data["master"]["loudness"] = -16  # re-masters the track only: ffmpeg writes a new MP3
    pipeline.write_text(yaml.safe_dump(data))
    limit = 16 * 1024  # under ffmpeg's MP3 (320 kbit/s), over every record and log line
    assert (album / "manifest" / "events.jsonl").stat().st_size < limit

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run([sys.executable, "-m", "albumgen", "build", str(pipeline)], env=ENV, capture_output=True,
                          text=True, timeout=600, preexec_fn=limited)
    assert proc.returncode == 7, proc.stderr
    last = proc.stderr.splitlines()[-1]
    assert last.startswith(f"Error: cannot write {mp3.name} in {album}: File too large"), proc.stderr
    assert last.endswith("(raise the file size limit (ulimit -f) or use another filesystem, "
                         "then run the same build again)")
    assert temp_files(album) == [] and mp3.read_bytes() == before  # the old master stays whole
    r = run_cli("build", str(pipeline))
    assert r.returncode == 0, r.stderr
    assert mp3.read_bytes() != before and temp_files(album) == []


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_full_disk_is_an_output_error_and_leaves_no_temp(tmp_path, code):
    target = tmp_path / "takes" / "take-1.wav"

    def fill(tmp: Path) -> None:
        tmp.write_bytes(b"\0" * 1000)  # what got written before the disk filled up
        raise OSError(code, os.strerror(code))

    with pytest.raises(OutputError) as e:
        with atomic.atomic_path(target, need=4096) as tmp:
            fill(tmp)
    assert e.value.exit_code == 7
    assert str(e.value).startswith(f"cannot write take-1.wav in {target.parent}: {os.strerror(code)}; "
                                   "it needs 4.0 kB, ")
    assert e.value.fix == "free at least 4.0 kB there, then run the same build again; every finished unit is kept"
    assert list(target.parent.iterdir()) == []


# -- Ctrl-C and SIGTERM -------------------------------------------------------------------------
# batch_size 1: takes commit one at a time, so the stop lands between recorded takes.
SLOW = {"album": {"tracks": 2}, "render": {"takes": 3, "duration": 2.0, "batch_size": 1}}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_at_a_safe_point_and_resumes(tmp_path, sig):
    pipeline = write_pipeline(tmp_path, SLOW)
    album = tmp_path / "albums" / "test-album"
    proc = subprocess.Popen([sys.executable, "-m", "albumgen", "build", str(pipeline)], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while len(render_records(album)) < 2:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no take was rendered in time"
            time.sleep(0.05)
        sent = time.monotonic()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
        stopped_after = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + sig, err  # as a shell reports it: 143 for SIGTERM, 130 for Ctrl-C
    assert stopped_after < 10, f"took {stopped_after:.1f} s to stop"
    kept = render_records(album)
    assert 2 <= len(kept) < 6, "the signal must land while takes are rendering"
    assert err.splitlines()[-1] == f"Interrupted: kept {len(kept)} takes; run the same build again to resume", err
    assert "Traceback" not in err
    assert temp_files(album) == []
    files = {rel: (album / rel).read_bytes() for rec in kept.values() for rel in rec["outputs"]}

    r = run_cli("build", str(pipeline))
    assert r.returncode == 0, r.stderr
    done, recovered = renders_done(album), renders_done(album, "unit_recovered")
    for key in kept:  # every take recorded before the stop was rendered exactly once
        assert done.count(key.split("/", 1)[1]) == 1, key
    assert len(set(done) | set(recovered)) == 6
    assert {rel: (album / rel).read_bytes() for rel in files} == files
    assert len(list(album.glob("*.mp3"))) == 2


def test_signal_during_an_llm_request_stops_at_once(tmp_path):
    # A slow server: the build waits on the request, which writes nothing, so it leaves at once.
    with LLMServer([chat(tracklist_json([("A", "warm pads, 80 bpm"), ("B", "dark techno, 130 bpm")]), delay=60)]) as s:
        pipeline = write_pipeline(tmp_path, {"prompts": {"source": "llm", "llm": {
            "base_url": s.base_url, "model": "m", "api_key_env": "NO_SUCH_KEY_VAR", "timeout": 120}}})
        proc = subprocess.Popen([sys.executable, "-m", "albumgen", "build", str(pipeline)], env=ENV,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 120
            while s.calls < 1:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the build never asked the server"
                time.sleep(0.05)
            sent = time.monotonic()
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
            stopped_after = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130, err
    assert stopped_after < 5, f"took {stopped_after:.1f} s to stop"
    assert err.splitlines()[-1] == "Interrupted: kept 0 takes; run the same build again to resume"
    album = tmp_path / "albums" / "test-album"
    assert not list(album.rglob("llm-*.json")) and render_records(album) == {}


# -- a writer killed mid-file ----------------------------------------------------------------

def test_a_killed_writers_temporaries_are_swept_by_the_next_build(tmp_path):
    """SIGKILL skips atomic_path's cleanup: an MP3 killed mid-encode stays as a hidden
    `.01 - X.tmp<pid>.mp3`. The next build removes those whose writer is dead, and only those."""
    pipeline = write_pipeline(tmp_path)
    r = run_cli("build", str(pipeline))
    assert r.returncode == 0, r.stderr
    album = tmp_path / "albums" / "test-album"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()  # a pid that has exited
    left = [album / f".01 - Track.tmp{dead}.mp3", album / "manifest" / f".manifest.tmp{dead}.json"]
    live = album / f".02 - Track.tmp{os.getpid()}.mp3"  # this test's own pid: a writer still at work
    mine = album / ".notes.tmp"  # not albumgen's pattern: the user's file
    for p in [*left, live, mine]:
        p.write_bytes(b"half")
    r = run_cli("build", str(pipeline))
    assert r.returncode == 0, r.stderr
    assert not any(p.exists() for p in left)
    assert live.exists() and mine.exists()
    swept = [e for e in Manifest(album).events() if e["event"] == "temporaries_removed"]
    assert sorted(swept[-1]["files"]) == sorted(p.relative_to(album).as_posix() for p in left)
