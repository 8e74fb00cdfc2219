"""A per-track melody in the prompt sources (a `melody` column or key in a prompts file, a
`melody` field of an inline track): parsed, kept through cleaning, naming and rewriting,
carried into the tracklist, checked before any work, and used by render over render.melody."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner
from helpers import write_pipeline
from keyleak import KEY, key_sweep  # noqa: F401  (autouse: the rewrite test is swept for the key)
from llm_server import LLMServer, chat
from render_album import render_keys

from albumgen.cli import main
from albumgen.engine import runner
from albumgen.engine.store.hashing import sha256_file
from albumgen.engine.store.manifest import Manifest
from albumgen.stages.prompts.clean import clean_candidates
from albumgen.stages.prompts.config import PromptsConfig
from albumgen.stages.prompts.parse import Candidate, parse_file

CSV = """title,prompt,melody
Neon Rain,synthwave with gated drums and a warm bass,hum.wav
Night Drive,dark outrun with arpeggios at 100 bpm,
Glass City,glassy arpeggios over a slow groove,riffs/riff one.flac
"""
WANT = [Candidate("synthwave with gated drums and a warm bass", "Neon Rain", "hum.wav"),
        Candidate("dark outrun with arpeggios at 100 bpm", "Night Drive"),
        Candidate("glassy arpeggios over a slow groove", "Glass City", "riffs/riff one.flac")]
FILES = {
    "p.csv": CSV,
    "p.tsv": CSV.replace(",", "\t"),
    "p.md": "| Title | Prompt | Melody |\n|---|---|---|\n" + "".join(
        f"| {c.title} | {c.prompt} | {c.melody or ''} |\n" for c in WANT),
    "p.json": json.dumps({"tracks": [{"title": c.title, "prompt": c.prompt, **({"melody": c.melody} if c.melody else {})}
                                     for c in WANT]}),
    "p.yaml": "".join(f"- title: {c.title}\n  prompt: {c.prompt}\n" + (f"  melody_file: {c.melody}\n" if c.melody else "")
                      for c in WANT),
}


def tone(path: Path, freq: float, seconds: float = 1.0) -> None:
    t = np.arange(int(seconds * 32000)) / 32000
    sf.write(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), 32000)


def build_prompts(path: Path):
    ctx = runner.open_pipeline(path, progress=False)
    runner.build(ctx, until="prompts")
    return ctx.manifest.record("prompts", "tracklist").data["tracks"], ctx


@pytest.mark.parametrize("name", list(FILES))
def test_every_file_format_reads_a_melody_column_or_key(tmp_path, name):
    (tmp_path / name).write_text(FILES[name], "utf-8")
    assert parse_file(tmp_path / name).candidates == WANT


def test_cleaning_keeps_the_melody_and_one_prompt_over_two_melodies_is_two_tracks():
    raw = [Candidate("1. **Warm pads and soft piano**", "A", "a.wav"), Candidate("warm pads and soft piano", "B", "b.wav"),
           Candidate("Warm pads and soft piano!", "C", "a.wav"), Candidate("Warm pads and soft piano", "D")]
    kept = clean_candidates(raw)
    assert [(c.title, c.melody) for c in kept.kept] == [("A", "a.wav"), ("B", "b.wav"), ("D", None)]
    assert kept.why() == "1 duplicate"  # C: A's prompt over A's melody


def test_inline_and_file_melodies_reach_the_tracklist(tmp_path):
    tone(tmp_path / "hum.wav", 440)
    (tmp_path / "riffs").mkdir()
    tone(tmp_path / "riffs" / "riff one.flac", 330)
    (tmp_path / "p.csv").write_text(CSV, "utf-8")
    tracks, _ = build_prompts(write_pipeline(tmp_path, {"album": {"tracks": 3}, "prompts": {
        "source": "file", "file": "p.csv"}}))
    assert [t.get("melody") for t in tracks] == ["hum.wav", None, "riffs/riff one.flac"]
    assert "melody" not in tracks[1]  # a track without one: the tracklist as before the field existed
    inline = [{"prompt": "soft piano at 70 bpm", "melody": "../hum.wav"}, "Dust: desert guitar and slide",
              {"prompt": "warm strings", "title": "Strings"}]
    (tmp_path / "inline").mkdir()
    tracks, _ = build_prompts(write_pipeline(tmp_path / "inline", {"album": {"tracks": 3}, "prompts": {
        "source": "inline", "inline": inline}}))
    assert [t.get("melody") for t in tracks] == ["../hum.wav", None, None]
    assert tracks[0]["title"]  # named by the title generator (name_untitled), melody kept
    r = CliRunner().invoke(main, ["prompts", str(tmp_path / "inline" / "pipeline.yaml")])
    assert r.exit_code == 0 and "    melody: ../hum.wav" in r.output.splitlines()


def test_a_track_without_melody_dumps_as_before():
    """master hashes a track's dump into its tags input: a track without a melody must dump
    exactly as before the field existed, or every album would be mastered again."""
    from albumgen.artifacts import Track, track_melody

    plain = Track(id="t01", n=1, title="A", prompt="soft piano")
    assert plain.model_dump() == {"id": "t01", "n": 1, "title": "A", "prompt": "soft piano"}
    assert track_melody(plain) is None
    assert track_melody(Track(id="t01", n=1, title="A", prompt="soft piano", melody="a.wav")) == "a.wav"


def test_an_inline_track_without_melody_keeps_its_key():
    cfg = PromptsConfig(source="inline", inline=[{"prompt": "warm strings", "title": "S"},
                                                 {"prompt": "soft piano", "melody": "a.wav"}])
    assert cfg.key_fields(1)["inline"] == [{"prompt": "warm strings", "title": "S"},
                                           {"prompt": "soft piano", "title": None, "melody": "a.wav"}]


def test_the_rewrite_pass_keeps_each_melody(tmp_path, monkeypatch):
    monkeypatch.setenv("ALBUMGEN_TEST_KEY", KEY)
    tone(tmp_path / "hum.wav", 440)
    with LLMServer() as server:
        server.add(chat(json.dumps({"prompts": ["solo piano ballad, 66 bpm", "desert blues guitar, 90 bpm"]})))
        tracks, _ = build_prompts(write_pipeline(tmp_path, {"album": {"tracks": 2}, "prompts": {
            "source": "inline", "rewrite": True,
            "inline": [{"title": "Keys", "prompt": "sad piano", "melody": "hum.wav"}, {"title": "Dust", "prompt": "guitar"}],
            "llm": {"base_url": server.base_url, "model": "m", "api_key_env": "ALBUMGEN_TEST_KEY", "backoff": 0.01}}}))
    assert [(t["prompt"], t.get("melody")) for t in tracks] == [("Solo piano ballad, 66 bpm", "hum.wav"),
                                                                 ("Desert blues guitar, 90 bpm", None)]


@pytest.mark.parametrize("source, setup, line", [
    ("file", lambda d: (d / "p.csv").write_text(CSV, "utf-8"),
     "Error: prompts.file (p.csv) melody: hum.wav not found (looked in {d}) "
     "(check the path; it is relative to the pipeline file)"),
    ("inline", lambda d: (d / "hum.wav").write_text("la la la\n"),
     "Error: prompts.inline.0.melody: hum.wav is not audio ffmpeg can read (convert it to WAV or FLAC)"),
])
def test_a_missing_or_unreadable_melody_stops_the_build_before_any_work(tmp_path, source, setup, line):
    setup(tmp_path)
    prompts = {"source": "file", "file": "p.csv"} if source == "file" else \
        {"source": "inline", "inline": [{"prompt": "soft piano", "melody": "hum.wav"}, "warm strings at 80 bpm"]}
    pipeline = write_pipeline(tmp_path, {"prompts": prompts, "render": {"model": "tiny-melody"}})
    r = CliRunner().invoke(main, ["build", str(pipeline)])
    assert r.exit_code == 3, r.output
    assert r.stderr.strip().splitlines()[-1] == line.format(d=tmp_path)
    assert not (tmp_path / "albums" / "test-album" / "manifest" / "manifest.json").exists() or \
        Manifest(tmp_path / "albums" / "test-album").records("prompts") == []


def test_a_track_melody_overrides_render_melody_and_keys_its_takes(tmp_path):
    for name, freq in (("a.wav", 440), ("b.wav", 330)):
        tone(tmp_path / name, freq)
    inline = [{"prompt": "soft piano at 70 bpm", "melody": "../b.wav"}, {"prompt": "warm strings at 80 bpm"}]
    (tmp_path / "column").mkdir()
    keys, units = render_keys(tmp_path / "column", {"source": "inline", "inline": inline}, {"melody": "../a.wav"})
    assert units["t01/take-1"].inputs["melody"] == sha256_file(tmp_path / "b.wav")  # its own
    assert units["t02/take-1"].inputs["melody"] == sha256_file(tmp_path / "a.wav")  # render.melody
    assert units["t01/take-1"].payload["melody"] == "../b.wav"
    # The same melodies set by track id in render.melody: the same takes, key for key.
    (tmp_path / "by-id").mkdir()
    plain = [{"prompt": i["prompt"]} for i in inline]
    same, _ = render_keys(tmp_path / "by-id", {"source": "inline", "inline": plain},
                          {"melody": {"t01": "../b.wav", "t02": "../a.wav"}})
    assert keys == same and len(keys) == 2


def test_a_melody_column_with_a_text_only_model_is_an_error(tmp_path):
    tone(tmp_path / "hum.wav", 440)
    pipeline = write_pipeline(tmp_path, {"prompts": {"source": "inline", "inline": [
        {"prompt": "soft piano", "melody": "hum.wav"}, "warm strings at 80 bpm"]}, "render": {"takes": 1}})
    r = CliRunner().invoke(main, ["build", str(pipeline)])
    assert r.exit_code == 5, r.output
    assert r.stderr.strip().splitlines()[-1] == (
        "Error: render.model: tiny is not a melody checkpoint, but the prompts give tracks a melody "
        "(use one, e.g. facebook/musicgen-melody (or tiny-melody to try it), or leave the melody column out)")
    assert Manifest(tmp_path / "albums" / "test-album").records("render") == []
