"""Careless and hostile inputs against a finished album: every file albumgen reads and the
pipeline fields that name paths or devices. Each case must end in exactly one `Error:`
line with its exit code, and leave every byte of the album as it was.

The album is built once for the module; every case points its pipeline at that album's
folder, so any write would show in the snapshot.
"""
from __future__ import annotations

import json
import os
import random
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import DEMO, album_snapshot, merge, write_pipeline

from albumgen.cli import main

HANG_LIMIT = 60  # seconds: a read that blocks (a FIFO) fails the case instead of the suite


def cli(*args: str):
    def hang(signum, frame):
        raise TimeoutError(f"albumgen {' '.join(args)} hung for {HANG_LIMIT} s")

    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(HANG_LIMIT)
    try:
        return CliRunner().invoke(main, list(args))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    folder = tmp_path_factory.mktemp("finished")
    r = cli("build", str(write_pipeline(folder)))
    assert r.exit_code == 0, r.output
    return folder / "albums" / "test-album"


def binary(n: int = 4096, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def loop(path: Path) -> Path:
    path.symlink_to(path.name)  # a link to itself
    return path


def sparse(path: Path, size: int) -> Path:
    with open(path, "wb") as f:
        f.truncate(size)  # huge on paper, nothing on disk
    return path


def cover_jpeg(path: Path, size: int = 64) -> bytes:
    from PIL import Image

    Image.new("RGB", (size, size), (200, 40, 90)).save(path, "JPEG")
    return path.read_bytes()


# -- the pipeline file itself --------------------------------------------------------------
def _pipeline_bytes(data: bytes):
    def make(d: Path, over: dict) -> Path:
        (d / "pipeline.yaml").write_bytes(data)
        return d / "pipeline.yaml"
    return make


def _pipeline_made_by(fn):
    def make(d: Path, over: dict) -> Path:
        return fn(d / "pipeline.yaml")
    return make


P = "{d}/pipeline.yaml"
PIPELINE = [
    ("latin-1", _pipeline_bytes("album:\n  title: Café\n".encode("latin-1")), 2,
     f"Error: {P} is not UTF-8 text (byte 0xe9 at offset 19) (save the pipeline as UTF-8 text)"),
    ("binary", _pipeline_bytes(binary()), 2,
     f"Error: {P} is not text: it holds NUL bytes (a binary file, or UTF-16 without a BOM) "
     "(save the pipeline as UTF-8 text)"),
    ("control characters", _pipeline_bytes(b"album:\n  title: x\n" + b"\x01\x02\x03\x04" * 10), 2,
     f"Error: {P} is not text: it holds 40 control characters (save the pipeline as UTF-8 text)"),
    ("empty", _pipeline_bytes(b""), 2,
     f"Error: {P} is empty (write the album's settings in it; `albumgen init` writes a starter)"),
    ("blank lines", _pipeline_bytes(b"\n  \n\t\n"), 2,
     f"Error: {P} is empty (write the album's settings in it; `albumgen init` writes a starter)"),
    ("comments only", _pipeline_bytes(b"# album:\n#   title: x\n"), 2,
     f"Error: {P} has no settings, only comments (write the album's settings in it; `albumgen init` writes a starter)"),
    ("huge", _pipeline_made_by(lambda p: sparse(p, 3 * 1024 * 1024)), 2,
     f"Error: {P} is 3.0 MB, more than the 1.0 MB albumgen reads (check it is the right file)"),
    ("a folder", _pipeline_made_by(lambda p: p.mkdir() or p), 2,
     f"Error: {P} is a folder, not a file (point it at a regular file)"),
    ("a symlink loop", _pipeline_made_by(loop), 2, f"Error: {P} is a symlink loop (point it at a real file)"),
    ("a FIFO", _pipeline_made_by(fifo), 2,
     f"Error: {P} is a FIFO (named pipe), not a regular file (point it at a regular file)"),
    ("nested too deeply", _pipeline_bytes(b"[" * 50_000), 2,
     f"Error: {P}: YAML nested too deeply (a pipeline is a few levels of sections)"),
    ("a list", _pipeline_bytes(b"- album\n- render\n"), 2,
     "Error: pipeline.yaml: must be a mapping of sections (album, prompts, render, ...) "
     "(see `albumgen init` for a starter file)"),
]


# -- fields --------------------------------------------------------------------------------
def _field(over: dict):
    def make(d: Path, base: dict) -> Path:
        return write_pipeline(d, merge(base, over))
    return make


FIX = "(fix pipeline.yaml)"
SLUG = ("must be one folder name, valid on every system (no / \\ : * ? \" < > |, no leading dot, "
        "no trailing dot or space, at most 100 bytes), got {!r}")
FIELDS = [
    *[(f"album.slug {slug!r}", _field({"album": {"slug": slug}}), 2, f"Error: album.slug: {SLUG.format(slug)} {FIX}")
      for slug in ("../../x", "a/b", "/tmp/x", "..", ".", ".hidden", "", "con", "x" * 101, "a\\b", "ends.")],
    ("render.device: tpu", _field({"render": {"device": "tpu"}}), 2,
     f"Error: render.device: must be auto, cpu, cuda, cuda:N or mps, got 'tpu' {FIX}"),
    ("a NUL in output_dir", _field({"output_dir": "albums\0x"}), 2,
     f"Error: output_dir: contains control characters ('albums\\x00x') {FIX}"),
    ("a NUL in prompts.file", _field({"prompts": {"source": "file", "file": "p\0.csv"}}), 2,
     f"Error: prompts.file: contains control characters ('p\\x00.csv') {FIX}"),
    ("an escape in album.title", _field({"album": {"title": "Hi\x1b[31m"}}), 2,
     f"Error: album.title: contains control characters ('Hi\\x1b[31m') {FIX}"),
    ("llm base_url not http", _field({"prompts": {"llm": {"base_url": "file:///etc/passwd"}}}), 2,
     f"Error: prompts.llm.base_url: must be an http:// or https:// address, got 'file:///etc/passwd' {FIX}"),
    ("an empty section", lambda d, base: _text(d, "album:\nrender: {model: tiny}\n"), 2,
     f"Error: album: is empty (write its settings indented under it, or delete the line) {FIX}"),
    ("a section written twice", lambda d, base: _text(d, "render: {model: tiny}\nalbum: {tracks: 2}\nrender: {takes: 9}\n"), 2,
     "Error: {d}/pipeline.yaml: malformed YAML at line 3, column 1: 'render' is written twice in one section (keep one) "
     "(fix the YAML syntax)"),
    ("a number neither prompt nor track", _field({"prompts": {"source": "inline", "inline": [42, "warm tape loops"]}}), 2,
     f"Error: prompts.inline.0: must be a string or a section of settings (key: value), got 42 {FIX}"),
    ("album.tracks: true", _field({"album": {"tracks": True}}), 2, f"Error: album.tracks: must be a number, got true {FIX}"),
    ("render.duration .nan", _field({"render": {"duration": float("nan")}}), 2,
     f"Error: render.duration: must be a finite number, got nan {FIX}"),
    ("llm base_url bracket left open", _field({"prompts": {"llm": {"base_url": "http://[::1/v1"}}}), 2,
     f"Error: prompts.llm.base_url: is not a valid address (Invalid IPv6 URL), got 'http://[::1/v1' {FIX}"),
    ("llm base_url port past 65535", _field({"prompts": {"llm": {"base_url": "http://localhost:99999/v1"}}}), 2,
     f"Error: prompts.llm.base_url: is not a valid address (Port out of range 0-65535), "
     f"got 'http://localhost:99999/v1' {FIX}"),
]


def _text(d: Path, text: str) -> Path:
    (d / "pipeline.yaml").write_text(text, "utf-8")
    return d / "pipeline.yaml"


# -- prompts.file, in every format -----------------------------------------------------------
def _prompts(name: str, make_file):
    def make(d: Path, base: dict) -> Path:
        make_file(d / name)
        return write_pipeline(d, merge(base, {"prompts": {"source": "file", "file": name}}))
    return make


def _write(data: bytes):
    return lambda p: p.write_bytes(data)


NOT_TEXT = "(save it as UTF-8 text (CSV, TXT, Markdown, JSON or YAML))"
PROMPT_FILES = [
    *[(f"binary {ext}", _prompts(f"prompts.{ext}", _write(binary())), 3,
       f"Error: prompts.file: prompts.{ext} is not text: it holds NUL bytes (a binary file, or UTF-16 without a BOM) "
       f"{NOT_TEXT}") for ext in ("csv", "tsv", "txt", "md", "json", "yaml")],
    ("latin-1 csv", _prompts("p.csv", _write("1, \"café jazz with brushes\"\n".encode("latin-1"))), 3,
     f"Error: prompts.file: p.csv is not UTF-8 text (byte 0xe9 at offset 7) {NOT_TEXT}"),
    ("a PNG named .txt", _prompts("p.txt", lambda p: cover_jpeg(p.with_suffix(".jpg")) and
                                  p.write_bytes(p.with_suffix(".jpg").read_bytes())), 3,
     f"Error: prompts.file: p.txt is not text: it holds NUL bytes (a binary file, or UTF-16 without a BOM) "
     f"{NOT_TEXT}"),
    ("empty", _prompts("p.txt", _write(b"")), 3,
     "Error: prompts.file: p.txt is empty (write one prompt per line, or a CSV, JSON or YAML list)"),
    ("only blank lines", _prompts("p.csv", _write(b"\r\n \r\n")), 3,
     "Error: prompts.file: p.csv is empty (write one prompt per line, or a CSV, JSON or YAML list)"),
    ("a folder", _prompts("p.csv", lambda p: p.mkdir()), 3,
     "Error: prompts.file: p.csv is a folder, not a file (point it at a regular file)"),
    ("a symlink loop", _prompts("p.csv", loop), 3,
     "Error: prompts.file: p.csv is a symlink loop (point it at a real file)"),
    ("a FIFO", _prompts("p.json", fifo), 3,
     "Error: prompts.file: p.json is a FIFO (named pipe), not a regular file (point it at a regular file)"),
    ("huge", _prompts("p.txt", lambda p: sparse(p, 20 * 1024 * 1024)), 3,
     "Error: prompts.file: p.txt is 20.0 MB, more than the 16.0 MB albumgen reads (check it is the right file)"),
    ("JSON nested too deeply", _prompts("p.json", _write(b"[" * 100_000 + b"]" * 100_000)), 3,
     "Error: prompts.file: p.json is nested too deeply (a prompts file is a flat list)"),
    ("missing", _prompts("gone.csv", lambda p: None), 3,
     "Error: prompts.file: gone.csv not found (looked in {d}) (check the path; it is relative to the pipeline file)"),
]


# -- master.cover --------------------------------------------------------------------------
def _cover(name: str, make_file):
    def make(d: Path, base: dict) -> Path:
        make_file(d / name)
        return write_pipeline(d, merge(base, {"master": {"cover": name}}))
    return make


def _half_jpeg(p: Path) -> None:
    data = cover_jpeg(p, 256)
    p.write_bytes(data[: len(data) // 2])


def _too_many_pixels(p: Path) -> None:
    from PIL import Image

    Image.new("1", (9000, 9000)).save(p, "PNG")  # 81 megapixels in a few kB


COVERS = [
    ("text named .jpg", _cover("cover.jpg", _write(b"not a picture at all\n")), 3,
     "Error: master.cover: cover.jpg is not an image albumgen can read (use a JPEG or PNG image)"),
    ("binary named .png", _cover("cover.png", _write(binary())), 3,
     "Error: master.cover: cover.png is not an image albumgen can read (use a JPEG or PNG image)"),
    ("empty", _cover("cover.jpg", _write(b"")), 3,
     "Error: master.cover: cover.jpg is empty (point master.cover at a JPEG or PNG image)"),
    ("truncated JPEG", _cover("cover.jpg", _half_jpeg), 3,
     "Error: master.cover: cover.jpg is a damaged or truncated image (export it again as JPEG or PNG)"),
    ("81 megapixels", _cover("cover.png", _too_many_pixels), 3,
     "Error: master.cover: cover.png has more than 64 million pixels "
     "(scale it down (the cover is saved at 3000x3000))"),
    ("huge file", _cover("cover.jpg", lambda p: sparse(p, 65 * 1024 * 1024)), 3,
     "Error: master.cover: cover.jpg is 65.0 MB, more than the 64.0 MB albumgen reads (check it is the right file)"),
    ("a folder", _cover("art", lambda p: p.mkdir()), 3,
     "Error: master.cover: art is a folder, not a file (point it at a regular file)"),
    ("a symlink loop", _cover("cover.jpg", loop), 3,
     "Error: master.cover: cover.jpg is a symlink loop (point it at a real file)"),
    ("a FIFO", _cover("cover.jpg", fifo), 3,
     "Error: master.cover: cover.jpg is a FIFO (named pipe), not a regular file (point it at a regular file)"),
    ("missing", _cover("nope.jpg", lambda p: None), 3,
     "Error: master.cover: nope.jpg not found (check the path; it is relative to the pipeline file)"),
]

# -- render.intro: audio every take continues from -----------------------------------------
def _intro(name: str, make_file):
    def make(d: Path, base: dict) -> Path:
        make_file(d / name)
        return write_pipeline(d, merge(base, {"render": {"intro": name}}))
    return make


MELODY = {"model": "tiny-melody"}  # a checkpoint that takes a melody: the file is what is wrong


def _field_file(name: str, make_file, over: dict):
    def make(d: Path, base: dict) -> Path:
        make_file(d / name)
        return write_pipeline(d, merge(base, over))
    return make


INTROS = [
    ("text named .wav", _intro("intro.wav", _write(b"RIFF? no, a shopping list\n")), 3,
     "Error: render.intro: intro.wav is not audio ffmpeg can read (convert it to WAV or FLAC)"),
    ("a JPEG named .flac", _intro("intro.flac", lambda p: cover_jpeg(p)), 3,
     "Error: render.intro: intro.flac is not audio ffmpeg can read (convert it to WAV or FLAC)"),
    ("empty", _intro("intro.wav", _write(b"")), 3,
     "Error: render.intro: intro.wav is not audio ffmpeg can read (convert it to WAV or FLAC)"),
    ("a FIFO", _intro("intro.wav", fifo), 3,
     "Error: render.intro: intro.wav is a FIFO (named pipe), not a regular file (point it at a regular file)"),
    ("a symlink loop", _intro("intro.wav", loop), 3,
     "Error: render.intro: intro.wav is a symlink loop (point it at a real file)"),
    ("a folder", _intro("intro.wav", lambda p: p.mkdir()), 3,
     "Error: render.intro: intro.wav is a folder, not a file (point it at a regular file)"),
]

INTROS += [
    ("melody: text named .wav", _field_file("m.wav", _write(b"la la la\n"), {"render": {**MELODY, "melody": "m.wav"}}), 3,
     "Error: render.melody: m.wav is not audio ffmpeg can read (convert it to WAV or FLAC)"),
    ("melody for one track: a FIFO", _field_file("m.wav", fifo, {"render": {**MELODY, "melody": {"t02": "m.wav"}}}), 3,
     "Error: render.melody: m.wav is a FIFO (named pipe), not a regular file (point it at a regular file)"),
]

CASES = PIPELINE + FIELDS + PROMPT_FILES + COVERS + INTROS


@pytest.mark.parametrize("name,make,code,line", CASES, ids=[c[0] for c in CASES])
def test_bad_input_says_what_and_changes_nothing(finished, tmp_path, name, make, code, line):
    before = album_snapshot(finished)
    # The finished album's own pipeline, pointed at its folder: a write would show.
    base = merge(DEMO, {"output_dir": str(finished.parent)})
    pipeline = make(tmp_path, base)
    r = cli("build", str(pipeline))
    assert r.stderr.splitlines() == [line.format(d=tmp_path)], r.output
    assert r.exit_code == code
    assert album_snapshot(finished) == before


def test_render_device_cuda_without_cuda_stops_before_any_work(finished, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    before = album_snapshot(finished)
    fresh = write_pipeline(tmp_path, {"render": {"device": "cuda"}})  # a new album: everything to do
    r = cli("build", str(fresh))
    build = f"torch {torch.__version__}" + ("" if torch.version.cuda else ", a CPU-only build")
    assert r.stderr.splitlines() == [
        f"Error: render.device is cuda but this machine has no usable CUDA GPU ({build}) (set render.device to auto "
        "(or cpu), or build on a machine with an NVIDIA GPU and a CUDA build of torch)"]
    # 5, the model family: the pipeline is valid (it builds on a GPU machine); this
    # machine cannot load the model where it asks, like a checkpoint that is not cached.
    assert r.exit_code == 5
    assert not (tmp_path / "albums").exists() or not any((tmp_path / "albums").rglob("*.wav"))
    assert not (tmp_path / "albums" / "test-album" / "manifest" / "manifest.json").exists()
    # Against the finished album too: nothing written.
    over = merge(DEMO, {"output_dir": str(finished.parent), "render": {"device": "cuda"}})
    r = cli("build", str(write_pipeline(tmp_path, over, name="finished.yaml")))
    assert r.exit_code == 5 and len(r.stderr.splitlines()) == 1
    assert album_snapshot(finished) == before


def test_slug_cannot_leave_output_dir(tmp_path):
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    r = cli("build", str(write_pipeline(deep, {"album": {"slug": "../../escaped"}})))
    assert r.exit_code == 2
    assert not list(tmp_path.rglob("manifest"))  # no album folder anywhere, inside or out


# -- files albumgen writes and reads back, edited by hand -----------------------------------
OVERRIDES = "manifest/picks/overrides.json"
DROP = "fix it, or delete it to drop every manual pick"


def _planted(rel: str, make_file, in_place: bool = False):
    """Replace (or create) a file inside the finished album; the test puts it back.
    in_place: make_file edits the existing file instead of a fresh path."""
    return rel, make_file, in_place


HAND_EDITS = [
    ("overrides: not JSON", _planted(OVERRIDES, _write(b'{"schema_version": 1, "tracks": {"t01": 2,')), 3,
     "Error: {a}/" + OVERRIDES + " is malformed: Expecting property name enclosed in double quotes: line 1 column 43 "
     f"(char 42) ({DROP})"),
    ("overrides: latin-1", _planted(OVERRIDES, _write('{"tracks": {"tø1": 2}}'.encode("latin-1"))), 3,
     "Error: {a}/" + OVERRIDES + f" is not UTF-8 text (byte 0xf8 at offset 14) ({DROP})"),
    ("overrides: take true", _planted(OVERRIDES, _write(b'{"schema_version": 1, "tracks": {"t01": true}}')), 3,
     "Error: {a}/" + OVERRIDES + f" is malformed: tracks must map track ids to take numbers >= 1 ({DROP})"),
    ("overrides: a list", _planted(OVERRIDES, _write(b"[1, 2]")), 3,
     "Error: {a}/" + OVERRIDES + f" is malformed: schema version 'list', expected 1 ({DROP})"),
    ("overrides: nested too deeply", _planted(OVERRIDES, _write(b"[" * 100_000)), 3,
     "Error: {a}/" + OVERRIDES + f" is malformed: maximum recursion depth exceeded while decoding a JSON array "
     f"from a unicode string ({DROP})"),
    ("overrides: empty", _planted(OVERRIDES, _write(b"")), 3,
     "Error: {a}/" + OVERRIDES + f" is malformed: Expecting value: line 1 column 1 (char 0) ({DROP})"),
    ("overrides: huge", _planted(OVERRIDES, lambda p: sparse(p, 2 * 1024 * 1024)), 3,
     "Error: {a}/" + OVERRIDES + " is 2.0 MB, more than the 1.0 MB albumgen reads (check it is the right file)"),
    ("overrides: a FIFO", _planted(OVERRIDES, fifo), 3,
     "Error: {a}/" + OVERRIDES + " is a FIFO (named pipe), not a regular file (point it at a regular file)"),
    ("overrides: a folder", _planted(OVERRIDES, lambda p: p.mkdir()), 3,
     "Error: {a}/" + OVERRIDES + " is a folder, not a file (point it at a regular file)"),
    ("overrides: a symlink loop", _planted(OVERRIDES, loop), 3,
     "Error: {a}/" + OVERRIDES + " is a symlink loop (point it at a real file)"),
]


@pytest.mark.parametrize("name,planted,code,line", HAND_EDITS, ids=[c[0] for c in HAND_EDITS])
def test_hand_edited_records_say_what_and_change_nothing(finished, tmp_path, name, planted, code, line):
    rel, make_file, in_place = planted
    target = finished / rel
    original = target.read_bytes() if target.is_file() else None
    if original is not None and not in_place:
        target.unlink()
    try:
        make_file(target)
        before = album_snapshot(finished)
        pipeline = write_pipeline(tmp_path, merge(DEMO, {"output_dir": str(finished.parent)}))
        r = cli("build", str(pipeline))
        lines = r.stderr.splitlines()
        assert len(lines) == 1, r.output
        assert lines[0] == line.format(a=finished)
        assert r.exit_code == code
        assert album_snapshot(finished) == before
    finally:
        if target.is_dir() and not target.is_symlink():
            target.rmdir()
        elif os.path.lexists(target):
            target.unlink()
        if original is not None:
            target.write_bytes(original)


def test_album_is_still_whole_after_every_case(finished):
    # The cases restore what they planted: a build of the finished album still does nothing.
    pipeline = finished.parent.parent / "pipeline.yaml"
    r = cli("build", str(pipeline))
    assert r.exit_code == 0 and "Nothing to do" in r.output, r.output


def test_a_utf16_pipeline_with_a_bom_is_text(finished, tmp_path):
    # What Windows Notepad writes as "Unicode": read, not refused.
    before = album_snapshot(finished)
    # Beside the album's own pipeline, same settings: the same album, nothing to do.
    utf16 = finished.parent.parent / "pipeline-utf16.yaml"
    utf16.write_bytes((finished.parent.parent / "pipeline.yaml").read_text("utf-8").encode("utf-16"))
    r = cli("build", str(utf16))
    assert r.exit_code == 0 and "Nothing to do" in r.output, r.output
    assert {k: v for k, v in album_snapshot(finished).items() if not k.endswith("events.jsonl")} == \
        {k: v for k, v in before.items() if not k.endswith("events.jsonl")}


# -- the record store: damage is recovered by the store itself (test_repair.py); what is
# checked here is that nothing there can hang a build or make it delete outside the album.
@pytest.fixture
def tracklist_album(tmp_path):
    pipeline = write_pipeline(tmp_path)
    r = cli("build", str(pipeline), "--until", "prompts")
    assert r.exit_code == 0, r.output
    return pipeline, tmp_path / "albums" / "test-album"


def test_a_fifo_for_manifest_json_is_damage_not_a_hang(tracklist_album):
    pipeline, album = tracklist_album
    snapshot = album / "manifest" / "manifest.json"
    snapshot.unlink()
    fifo(snapshot)
    r = cli("build", str(pipeline), "--until", "prompts", "-v")
    assert r.exit_code == 0, r.output
    assert f"Warning: {snapshot} is not a regular file; rebuilding its records from the files on disk" in r.stderr
    assert "Stage 'prompts' didn't change" in r.stderr  # the tracklist was recovered, not made again


def test_a_fifo_for_the_journal_is_refused_before_any_work(tracklist_album):
    pipeline, album = tracklist_album
    journal = album / "manifest" / "journal.jsonl"
    journal.unlink(missing_ok=True)
    fifo(journal)
    before = album_snapshot(album)
    r = cli("build", str(pipeline))
    assert r.stderr.splitlines() == [f"Error: {journal} is a FIFO (named pipe), not a regular file (remove it: the "
                                     "next build rebuilds the records from the files on disk)"]
    assert r.exit_code == 3 and album_snapshot(album) == before


def test_a_record_naming_a_file_outside_the_album_never_deletes_it(tracklist_album, tmp_path):
    pipeline, album = tracklist_album
    victim = tmp_path / "victim.txt"
    victim.write_text("not albumgen's")
    snapshot = album / "manifest" / "manifest.json"
    data = json.loads(snapshot.read_text("utf-8"))
    # A stale unit (no such track): pruning it would unlink its outputs.
    data["records"]["render/t09/take-1"] = {
        "key": "0" * 64, "stage": "render", "unit": "t09/take-1", "data": {}, "finished_at": 0, "seconds": 0,
        "outputs": {"../../victim.txt": {"sha256": "0" * 64, "size": 14, "mtime_ns": 0}}}
    snapshot.write_text(json.dumps(data), "utf-8")
    r = cli("build", str(pipeline), "--until", "render")
    assert r.exit_code == 0, r.output
    assert "is not a path inside the album folder" in r.stderr
    assert victim.read_text() == "not albumgen's"


def test_score_refuses_what_is_not_audio_without_hanging(tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("not audio, only named like it\n")
    files = [text, fifo(tmp_path / "pipe.wav"), loop(tmp_path / "loop.flac"), tmp_path / "folder.mp3",
             tmp_path / "empty.ogg"]
    files[3].mkdir()
    files[4].write_bytes(b"")
    r = cli("score", *map(str, files))
    assert r.exit_code == 3
    assert r.stderr.splitlines() == [
        f"{text}: cannot read: {text}: not an audio file ffmpeg can read (convert it to WAV or FLAC)",
        f"{files[1]}: cannot read: {files[1]} is a FIFO (named pipe), not a regular file (point it at a regular file)",
        f"{files[2]}: cannot read: {files[2]} is a symlink loop (point it at a real file)",
        f"{files[3]}: cannot read: {files[3]} is a folder, not a file (point it at a regular file)",
        f"{files[4]}: cannot read: {files[4]}: not an audio file ffmpeg can read (convert it to WAV or FLAC)",
        "Error: no file could be scored (check the paths and formats)"]
