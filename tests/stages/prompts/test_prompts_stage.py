"""The prompts stage through the runner and `albumgen prompts`: builtin, inline, file."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import write_pipeline
from test_prompts_parse import ISSUE_CSV

from albumgen.cli import main
from albumgen.engine import runner
from albumgen.engine.store.manifest import Manifest
from albumgen.engine.store.recovery import read_body
from albumgen.errors import InputError


def build(path: Path):
    ctx = runner.open_pipeline(path, progress=False)
    runner.build(ctx, until="prompts")
    return ctx.manifest.record("prompts", "tracklist"), ctx


def prompts_of(rec) -> list[str]:
    return [t["prompt"] for t in rec.data["tracks"]]


def test_builtin_is_deterministic_varied_and_keyless(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    over = {"album": {"title": None, "tracks": 8, "genre": "Synthwave", "brief": "late-night city drives, warm synths"},
            "prompts": {"source": "builtin"}}
    for name in "abc":
        (tmp_path / name).mkdir()
    a, ctx = build(write_pipeline(tmp_path / "a", over))
    b, _ = build(write_pipeline(tmp_path / "b", over))
    # The file is the record's data plus the recovery block (albumgen.engine.store.recovery).
    assert a.data == b.data and read_body(ctx.album_dir / "manifest/prompts/tracklist.json") == a.data
    prompts = prompts_of(a)
    assert [t["id"] for t in a.data["tracks"]] == [f"t{i:02d}" for i in range(1, 9)]
    assert len({p.split()[0] for p in prompts}) == 8  # eight moods
    assert len({p.split(", ")[1] for p in prompts}) == 8  # eight tempos
    assert len({t["title"] for t in a.data["tracks"]}) == 8
    assert all(p.endswith("evoking late-night city drives") for p in prompts)
    c, _ = build(write_pipeline(tmp_path / "c", {**over, "album": {**over["album"], "seed": 2}}))
    assert prompts_of(c) != prompts


def test_builtin_fills_a_long_album(tmp_path):
    rec, _ = build(write_pipeline(tmp_path, {"album": {"tracks": 40}, "prompts": {"source": "builtin"}}))
    assert len(prompts_of(rec)) == len(set(prompts_of(rec))) == 40


def test_inline_strings_titles_and_mappings(tmp_path):
    rec, _ = build(write_pipeline(tmp_path, {"album": {"tracks": 3}, "prompts": {"source": "inline", "inline": [
        "1. sad piano in the rain", "Neon Rain: fast synthwave, 128 bpm", {"title": "Dust", "prompt": "desert guitar"}]}}))
    tracks = [(t["title"], t["prompt"]) for t in rec.data["tracks"]]
    assert [p for _, p in tracks] == ["Sad piano in the rain", "Fast synthwave, 128 bpm", "Desert guitar"]
    assert [t for t, _ in tracks][1:] == ["Neon Rain", "Dust"]
    # The untitled prompt is named by the title generator, not from its own first words, and
    # borrows no word from the titles the source gave.
    named = tracks[0][0].split()
    assert named and not {w.casefold() for w in named} & {"sad", "piano", "rain", "neon", "dust"}
    assert rec.data["album_title"] == "Test Album"


def file_pipeline(folder: Path, tracks: int, text: str = ISSUE_CSV) -> Path:
    (folder / "prompts.csv").write_text(text, "utf-8")
    return write_pipeline(folder, {"album": {"tracks": tracks}, "prompts": {"source": "file", "file": "prompts.csv"}})


def test_file_source_keeps_exactly_album_tracks(tmp_path):
    rec, _ = build(file_pipeline(tmp_path, 2))
    assert [t["prompt"] for t in rec.data["tracks"]] == [
        "80s retrowave track with pulsing synths and gated drums",
        "Experiment with vocoder synth lead over a driving bassline"]
    titles = [t["title"] for t in rec.data["tracks"]]
    assert titles[0] != "80s Retrowave Pulsing Synths" and titles[1] != "Experiment Vocoder Synth Lead"
    assert build(file_pipeline(tmp_path, 2))[0].data == rec.data  # the same names every time


def test_editing_one_line_changes_only_that_track(tmp_path):
    before, ctx = build(file_pipeline(tmp_path, 3))
    n = len(Manifest(ctx.album_dir).events())
    after, _ = build(file_pipeline(tmp_path, 3, ISSUE_CSV.replace("felt piano, 70 bpm", "felt piano, 72 bpm")))
    changed = [(a["id"], a["prompt"]) for a, b in zip(after.data["tracks"], before.data["tracks"]) if a != b]
    assert changed == [("t03", "Dreamy ambient piece with felt piano, 72 bpm")]
    assert [e["unit"] for e in Manifest(ctx.album_dir).events()[n:] if e["event"] == "unit_done"] == ["tracklist"]


def test_too_few_survivors_says_how_many_and_why(tmp_path):
    with pytest.raises(InputError) as e:  # the file is what to fix: exit 3, as an empty one
        build(file_pipeline(tmp_path, 4))
    assert str(e.value) == ("only 3 of 5 prompts from prompts.file (prompts.csv) survived cleaning but album.tracks "
                            "is 4 (dropped: 1 duplicate, 1 not audio (artwork, cover, video...)) "
                            "(add prompts to prompts.csv or lower album.tracks)")


def test_cli_prompts_prints_the_tracklist_then_says_nothing_changed(tmp_path):
    path = file_pipeline(tmp_path, 2)
    result = CliRunner().invoke(main, ["prompts", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ("Test Album\n"
                             " 1. Pale Undertow\n"
                             "    80s retrowave track with pulsing synths and gated drums\n"
                             " 2. Last Echoes\n"
                             "    Experiment with vocoder synth lead over a driving bassline\n")
    again = CliRunner().invoke(main, ["prompts", "--json", str(path)])
    assert json.loads(again.stdout)["tracks"][1]["id"] == "t02"
    assert "didn't change" not in again.stderr  # said on every resume: only under --verbose
    verbose = CliRunner().invoke(main, ["prompts", "--json", str(path), "-v"])  # -v after the command too
    assert "Stage 'prompts' didn't change, skipping" in verbose.stderr


def test_cli_prompts_too_few_is_one_error_line(tmp_path):
    result = CliRunner().invoke(main, ["prompts", str(file_pipeline(tmp_path, 4))])
    assert result.exit_code == 3
    assert result.stderr.splitlines()[-1] == (
        "Error: only 3 of 5 prompts from prompts.file (prompts.csv) survived cleaning but album.tracks is 4 "
        "(dropped: 1 duplicate, 1 not audio (artwork, cover, video...)) (add prompts to prompts.csv or lower "
        "album.tracks)")
