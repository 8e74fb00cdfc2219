"""The CLI end to end: build, incremental rebuilds, status, init, and bad input."""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import cli, write_pipeline

from albumgen.engine.store.manifest import AlbumLock, Manifest


def manifest_snapshot(album: Path) -> dict[str, str]:
    return {p.relative_to(album).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(album.rglob("*")) if p.is_file()}


def units_run(album: Path, since: int) -> list[tuple[str, str]]:
    events = Manifest(album).events()[since:]
    return [(e["stage"], e["unit"]) for e in events if e["event"] == "unit_done"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("album")
    pipeline = write_pipeline(folder)
    r = cli("build", str(pipeline))
    assert r.exit_code == 0, r.output
    return pipeline, folder / "albums" / "test-album"


def test_build_makes_a_tagged_album(built):
    pipeline, album = built
    mp3s = sorted(p.name for p in album.glob("*.mp3"))
    assert len(mp3s) == 2 and all(n[:5] in ("01 - ", "02 - ") for n in mp3s)
    assert (album / "cover.jpg").is_file() and (album / "test-album.m3u8").is_file()
    m = Manifest(album)
    assert {r.unit for r in m.records("render")} == {"t01/take-1", "t01/take-2", "t02/take-1", "t02/take-2"}
    from mutagen.id3 import ID3

    tags = ID3(album / mp3s[0])
    assert tags["TALB"].text == ["Test Album"] and tags["TRCK"].text == ["1/2"]


def test_second_build_runs_nothing_and_says_so(built):
    pipeline, album = built
    before = manifest_snapshot(album / "manifest")
    n = len(Manifest(album).events())
    r = cli("build", str(pipeline))
    assert r.exit_code == 0
    assert "Nothing to do: every unit is up to date" in r.output
    assert units_run(album, n) == []
    after = manifest_snapshot(album / "manifest")
    # Only the event log grows; no artifact or record changes.
    assert {k: v for k, v in after.items() if k != "events.jsonl"} == \
        {k: v for k, v in before.items() if k != "events.jsonl"}


def test_dry_run_writes_nothing(tmp_path):
    pipeline = write_pipeline(tmp_path)
    r = cli("build", str(pipeline), "--dry-run")
    assert r.exit_code == 0, r.output
    assert "prompts  would run 1 of 1 unit (0 up to date)" in r.output
    assert "render   would run 4 of 4 units (0 up to date)" in r.output  # the builtin prompts are known now
    assert not (tmp_path / "albums").exists()


def test_status_table(built):
    pipeline, album = built
    r = cli("status", str(pipeline))
    assert r.exit_code == 0, r.output
    assert "t01" in r.output and "2/2" in r.output and "01 - " in r.output
    assert "render: 4/4 takes done" in r.output and "master: 4/4 units done" in r.output
    assert "decode:" not in r.output  # a stage the pipeline leaves off has no "0/0" line


@pytest.mark.slow  # child processes
def test_a_reader_that_leaves_ends_the_command_quietly(built):
    # `albumgen status x.yaml | head -1`: the pipe's reader is gone before the command writes.
    pipeline, album = built
    kept = lambda: {k: v for k, v in manifest_snapshot(album).items() if k not in ("manifest/lock", "manifest/events.jsonl")}  # noqa: E731
    snapshot = kept()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    commands = [["status", str(pipeline)], ["prompts", str(pipeline)], ["build", "--dry-run", str(pipeline)],
                ["build", str(pipeline)], ["--help"]]
    procs = []
    for args in commands:
        read, write = os.pipe()
        os.close(read)
        procs.append(subprocess.Popen([sys.executable, "-m", "albumgen", *args], stdout=write,
                                      stderr=subprocess.PIPE, text=True, env=env))
        os.close(write)
    for args, proc in zip(commands, procs):
        _, err = proc.communicate(timeout=120)
        assert (proc.returncode, err) == (0, ""), args
    assert kept() == snapshot  # the build found nothing to do, and said so to no one


@pytest.mark.slow  # a child process
def test_output_to_a_full_device_is_not_the_album_disk(built):
    pipeline, _ = built
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "albumgen", "status", str(pipeline)], stdout=full,
                           stderr=subprocess.PIPE, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert (r.returncode, r.stderr) == (7, "Error: cannot write the output: No space left on device "
                                           "(send it where there is room, or free some space there)\n")


def test_init_writes_a_valid_starter(tmp_path):
    target = tmp_path / "mine.yaml"
    r = cli("init", str(target))
    assert r.exit_code == 0 and target.is_file()
    from albumgen.config import load_config

    cfg, _ = load_config(target)
    assert cfg.prompts.source == "builtin"
    again = cli("init", str(target))
    assert again.exit_code == 7
    assert again.stderr.strip() == f"Error: {target} already exists (pick another name or pass --force)"


def edit(pipeline: Path, fn) -> None:
    data = yaml.safe_load(pipeline.read_text())
    fn(data)
    pipeline.write_text(yaml.safe_dump(data))


def test_incremental_rebuilds(tmp_path):
    pipeline = write_pipeline(tmp_path, {"prompts": {"source": "inline", "inline": [
        "calm piano and strings, 80 bpm", "driving techno, 128 bpm, acid bass", "spare spare prompt"]}})
    album = tmp_path / "albums" / "test-album"
    assert cli("build", str(pipeline)).exit_code == 0
    takes_before = {r.unit: r.outputs for r in Manifest(album).records("render")}

    # master settings only: only mastering runs again.
    edit(pipeline, lambda d: d["master"].update(loudness=-16))
    n = len(Manifest(album).events())
    assert cli("build", str(pipeline)).exit_code == 0
    ran = units_run(album, n)
    assert {s for s, _ in ran} == {"master"} and ("master", "t01") in ran and ("master", "t02") in ran

    # takes 2 -> 3: one more take per track, existing takes kept byte for byte.
    edit(pipeline, lambda d: d["render"].update(takes=3))
    n = len(Manifest(album).events())
    assert cli("build", str(pipeline)).exit_code == 0
    ran = units_run(album, n)
    assert sorted(u for s, u in ran if s == "render") == ["t01/take-3", "t02/take-3"]
    after = {r.unit: r.outputs for r in Manifest(album).records("render")}
    assert all(after[u] == outs for u, outs in takes_before.items())

    # one prompt edited: that track only is re-rendered (and re-picked, re-mastered).
    edit(pipeline, lambda d: d["prompts"]["inline"].__setitem__(1, "dark ambient drones, 60 bpm"))
    n = len(Manifest(album).events())
    assert cli("build", str(pipeline)).exit_code == 0
    ran = units_run(album, n)
    assert sorted(u for s, u in ran if s == "render") == ["t02/take-1", "t02/take-2", "t02/take-3"]
    assert not any(u.startswith("t01") for s, u in ran)

    # a batch size change is a speed setting: nothing re-renders.
    edit(pipeline, lambda d: d["render"].update(batch_size=1))
    n = len(Manifest(album).events())
    assert cli("build", str(pipeline)).exit_code == 0
    assert units_run(album, n) == []

    # fewer tracks: the dropped track's files and records leave the album.
    edit(pipeline, lambda d: d["album"].update(tracks=1))
    assert cli("build", str(pipeline)).exit_code == 0
    assert [p.name[:5] for p in album.glob("*.mp3")] == ["01 - "]
    assert not (album / "manifest" / "takes" / "t02").exists() or not any((album / "manifest/takes/t02").iterdir())
    assert "t02" not in json.loads((album / "album.json").read_text())["tracklist"].__repr__()


def test_force_and_until(tmp_path):
    pipeline = write_pipeline(tmp_path)
    album = tmp_path / "albums" / "test-album"
    r = cli("build", str(pipeline), "--until", "render")
    assert r.exit_code == 0, r.output
    assert Manifest(album).records("pick") == [] and len(Manifest(album).records("render")) == 4
    assert cli("build", str(pipeline)).exit_code == 0
    n = len(Manifest(album).events())
    assert cli("build", str(pipeline), "--force", "pick").exit_code == 0
    assert {s for s, _ in units_run(album, n)} == {"pick"}  # same picks: mastering is not redone
    r = cli("build", str(pipeline), "--force", "mix")
    assert r.exit_code == 2
    assert r.stderr.strip() == "Error: unknown stage 'mix' (use one of: prompts, render, decode, pick, sequence, master)"


BAD = [
    ("malformed yaml", lambda p: p.write_text("album:\n  title: [x\n"), 2,
     "Error: {p}: malformed YAML at line 3, column 1: "),
    ("unknown key", lambda p: edit(p, lambda d: d["render"].update(tkaes=3)), 2,
     "Error: render.tkaes: unknown key (allowed: "),
    ("wrong type", lambda p: edit(p, lambda d: d["render"].update(takes="many")), 2,
     "Error: render.takes: must be an int, got 'many' (fix pipeline.yaml)"),
    ("zero takes", lambda p: edit(p, lambda d: d["render"].update(takes=0)), 2,
     "Error: render.takes: must be >= 1 (fix pipeline.yaml)"),
    ("missing prompts file", lambda p: edit(p, lambda d: d["prompts"].update(source="file", file="nope.csv")), 3,
     "Error: prompts.file: nope.csv not found (looked in "),
]


def test_bad_input_leaves_the_manifest_as_it_was(built, tmp_path):
    _, album = built
    snapshot = manifest_snapshot(album)
    for name, breaker, code, start in BAD:
        pipeline = tmp_path / "pipeline.yaml"
        # Same album folder as the built one, so a write would show in the snapshot.
        good = yaml.safe_load(built[0].read_text())
        good["output_dir"] = str(album.parent)
        pipeline.write_text(yaml.safe_dump(good))
        breaker(pipeline)
        r = cli("build", str(pipeline))
        assert r.exit_code == code, (name, r.output)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(start.format(p=pipeline)), (name, lines)
        assert "Traceback" not in r.output
    assert manifest_snapshot(album) == snapshot


def test_unwritable_output(tmp_path):
    (tmp_path / "albums").write_text("a file where the album folder should go")
    pipeline = write_pipeline(tmp_path)
    r = cli("build", str(pipeline))
    assert r.exit_code == 7
    assert r.stderr.strip().startswith(f"Error: cannot write to {tmp_path / 'albums' / 'test-album'}: ")
    assert r.stderr.strip().endswith("(set output_dir in the pipeline to a folder you can write)")


def test_second_build_while_one_runs(built):
    pipeline, album = built
    snapshot = manifest_snapshot(album)
    with AlbumLock(album / "manifest"):  # what a running build holds
        r = cli("build", str(pipeline))
    assert r.exit_code == 4
    import os

    assert r.stderr.strip() == (f"Error: another albumgen build (pid {os.getpid()}) is writing {album} "
                                "(wait for it to finish, or stop that process)")
    after = manifest_snapshot(album)
    after.pop("manifest/lock"), snapshot.pop("manifest/lock")  # the pid this test's own lock wrote
    assert after == snapshot


def test_verbose_shows_traceback_for_errors(tmp_path):
    pipeline = write_pipeline(tmp_path, {"render": {"takes": 0}})
    r = cli("-v", "status", str(pipeline))
    assert r.exit_code == 2 and "Error: render.takes: must be >= 1" in r.stderr


def test_retry_rounds_master_only_the_final_picks(tmp_path):
    # Every tiny take fails the hard checks, so pick asks for one more round of takes;
    # mastering must wait for the settled pick instead of mastering the interim one.
    pipeline = write_pipeline(tmp_path, {"album": {"tracks": 1}, "render": {"takes": 1},
                                         "pick": {"retry_takes": 1, "max_rounds": 1}})
    album = tmp_path / "albums" / "test-album"
    r = cli("build", str(pipeline))
    assert r.exit_code == 0, r.output
    ran = units_run(album, 0)
    assert sorted(u for s, u in ran if s == "render") == ["t01/take-1", "t01/take-2"]
    assert [u for s, u in ran if s == "pick"] == ["t01", "t01"]
    assert [u for s, u in ran if s == "master"] == ["cover", "t01", "album"]
    status = cli("status", str(pipeline))
    row = next(line for line in status.output.splitlines() if "t01" in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells[2] == "2/2", row  # render: the retry round's take counts in the total
    assert cells[3] == "encodec", row  # decode: the takes' audio is render's own
    assert re.fullmatch(r"take [12] \(all rejected\)", cells[4]), row


def test_help_imports_no_audio_or_model_library():
    """`albumgen --help` (and every command's start) imports the CLI and every stage's
    commands, not what their work needs: scipy's filters, librosa, torch, transformers."""
    import subprocess
    import sys

    code = ("import sys; from albumgen.cli import main; "
            "print(sorted(m for m in ('scipy', 'librosa', 'torch', 'transformers', 'openai') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout
