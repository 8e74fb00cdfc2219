"""album.vocals: lyrics: lyrics cleaned into tagged sections, written by an LLM (a real
loopback OpenAI-compatible server) or given by file and inline sources, stored in the
tracklist, sung by the acestep backend and tagged into the MP3 (USLT) and FLAC (LYRICS)."""
from __future__ import annotations

import json

import pytest
from helpers import write_pipeline
from hypothesis import given, settings
from hypothesis import strategies as st
from llm_server import LLMServer, chat, tracklist_json

from albumgen.config import load_config
from albumgen.engine import runner
from albumgen.stages.prompts.lyrics import clean_lyrics

KEY = "sk-test-lyrics"
CHATTY = """Sure! Here are the lyrics for your song:

**Verse 1:**
1. Walking down the **empty** street
2. Neon lights beneath my feet

(Chorus)
Oh, the night is young
## Bridge
Hold on
I hope you enjoy these lyrics!"""


def test_chatter_numbering_and_markdown_go_and_sections_are_tagged():
    assert clean_lyrics(CHATTY) == ("[verse]\nWalking down the empty street\nNeon lights beneath my feet\n\n"
                                    "[chorus]\nOh, the night is young\n\n[bridge]\nHold on")


@pytest.mark.parametrize("text", ["I'm sorry, but I can't write lyrics for that.", "Here are the lyrics:", "",
                                  "[Verse]\n[Chorus]\n"])
def test_a_refusal_or_nothing_sung_is_no_lyrics(text):
    assert clean_lyrics(text) == ""


def test_untagged_words_become_a_verse_and_length_is_bounded_at_a_line():
    assert clean_lyrics("la la la\nno tags here") == "[verse]\nla la la\nno tags here"
    long = "\n".join(f"line number {i} of a very long song" for i in range(200))
    out = clean_lyrics(long, max_chars=300)
    assert len(out) <= 300 and out.endswith("of a very long song")


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300))
@settings(max_examples=200, deadline=None)
def test_cleaning_is_idempotent(text):
    once = clean_lyrics(text, 200)
    assert clean_lyrics(once, 200) == once


def build(path, until="prompts"):
    config, base = load_config(path)
    ctx = runner.make_context(config, base, path.name, progress=False)
    runner.build(ctx, until=until)
    return ctx


SONGS = [("Neon Rain", "synthpop with a breathy female vocal, 110 bpm, in A minor"),
         ("Night Drive", "outrun ballad, male singer over arpeggios, 96 bpm, in D major"),
         ("Glass City", "glassy dream pop with a choir, 80 bpm")]


def llm_pipeline(folder, base_url, **render):
    llm = {"base_url": base_url, "model": "test-model", "api_key_env": "ALBUMGEN_TEST_KEY", "backoff": 0.01,
           "max_attempts": 2, "timeout": 5}
    return write_pipeline(folder, {"album": {"title": None, "tracks": 2, "vocals": "lyrics", "language": "de"},
                                   "prompts": {"source": "llm", "llm": llm}, **render})


def test_the_llm_writes_lyrics_in_the_album_language_stored_once(tmp_path, monkeypatch):
    monkeypatch.setenv("ALBUMGEN_TEST_KEY", KEY)
    with LLMServer() as server:
        server.add(chat(tracklist_json(SONGS)))
        server.add(chat(json.dumps({"lyrics": [CHATTY, "Here you go:\n[chorus]\nNacht und Licht\n\nEnjoy!"]})))
        ctx = build(llm_pipeline(tmp_path, server.base_url))
        tracks = ctx.manifest.record("prompts", "tracklist").data["tracks"]
        # the voices asked for stay in the prompts of an album that sings
        assert tracks[0]["prompt"] == "Synthpop with a breathy female vocal, 110 bpm, in A minor"
        assert tracks[0]["lyrics"] == clean_lyrics(CHATTY)
        assert tracks[1]["lyrics"] == "[chorus]\nNacht und Licht"
        asked = server.requests[1]["body"]["messages"]
        assert "'de'" in asked[1]["content"] and "[verse]" in asked[1]["content"] and "ACE-Step" in asked[0]["content"]
        assert "Night Drive" in asked[1]["content"]
        build(llm_pipeline(tmp_path, server.base_url))  # resume: no call
        assert server.calls == 2


def test_an_instrumental_album_keeps_its_prompts_without_voices(tmp_path, monkeypatch):
    monkeypatch.setenv("ALBUMGEN_TEST_KEY", KEY)
    with LLMServer() as server:
        server.add(chat(tracklist_json(SONGS)))
        path = llm_pipeline(tmp_path, server.base_url)
        path.write_text(path.read_text().replace("vocals: lyrics", "vocals: instrumental"))
        ctx = build(path)
        tracks = ctx.manifest.record("prompts", "tracklist").data["tracks"]
        assert server.calls == 1 and all("lyrics" not in t for t in tracks)
        assert "vocal" not in tracks[0]["prompt"]


def test_file_and_inline_sources_take_a_lyrics_column_or_key(tmp_path):
    (tmp_path / "songs.csv").write_text('title,prompt,lyrics\nRain,"pop song, 100 bpm","[Verse]\nrain on me"\n'
                                        'Sun,"folk song, 90 bpm",\n', "utf-8")
    ctx = build(write_pipeline(tmp_path, {"album": {"tracks": 2, "vocals": "lyrics"},
                                          "prompts": {"source": "file", "file": "songs.csv"}}))
    tracks = ctx.manifest.record("prompts", "tracklist").data["tracks"]
    assert tracks[0]["lyrics"] == "[verse]\nrain on me" and "lyrics" not in tracks[1]  # no LLM: instrumental

    inline = tmp_path / "inline"
    inline.mkdir()
    ctx = build(write_pipeline(inline, {"album": {"tracks": 1, "vocals": "lyrics"}, "prompts": {
        "source": "inline", "inline": [{"prompt": "a ballad, 70 bpm", "lyrics": "Chorus:\nhold me"}]}}))
    assert ctx.manifest.record("prompts", "tracklist").data["tracks"][0]["lyrics"] == "[chorus]\nhold me"


def test_the_builtin_composer_stays_instrumental(tmp_path):
    ctx = build(write_pipeline(tmp_path, {"album": {"vocals": "lyrics"}}))
    assert all("lyrics" not in t for t in ctx.manifest.record("prompts", "tracklist").data["tracks"])


@pytest.mark.parametrize("fmt", ["mp3", "flac"])
def test_lyrics_are_sung_and_reach_the_file_tags(tmp_path, fmt):
    pytest.importorskip("diffusers")
    from mutagen.flac import FLAC
    from mutagen.id3 import ID3

    lyrics = "[verse]\nrain on me\nrain on me\n\n[chorus]\noh"
    ctx = build(write_pipeline(tmp_path, {
        "album": {"tracks": 1, "vocals": "lyrics", "language": "de"},
        "prompts": {"source": "inline", "inline": [{"prompt": "a ballad, 70 bpm, in C major", "lyrics": lyrics}]},
        "render": {"backend": "acestep", "model": "tiny-acestep", "takes": 1, "duration": 2.0, "device": "cpu"},
        "master": {"format": fmt}}), until=None)
    take = ctx.manifest.record("render", "t01/take-1").data
    assert (take["lyrics"], take["language"], take["bpm"], take["key"]) == (True, "de", 70, "C major")
    [song] = list(ctx.album_dir.glob(f"*.{fmt}"))
    if fmt == "mp3":
        [uslt] = ID3(song).getall("USLT")
        assert (uslt.text, uslt.lang) == (lyrics, "deu")
        from albumgen.review.export import export  # the review page shows them, line by line

        html = export(ctx, tmp_path / "review.html").read_text("utf-8")
        assert '<pre class="lyrics">[verse]\nrain on me\nrain on me\n\n[chorus]\noh</pre>' in html
    else:
        assert FLAC(song)["LYRICS"] == [lyrics]
