"""Titles a person would write, and a composer whose palettes fit the genre."""
from __future__ import annotations

import json
import re

import pytest
from keyleak import key_sweep  # noqa: F401  (autouse: every test here is swept for the key)
from llm_server import LLMServer, chat
from test_prompts_llm import KEY, build, pipeline

from albumgen.stages.prompts.builtin import compose, name_tracks, palette_for

CSV_NO_TITLES = "prompt\n\"synthwave with gated drums, 110 bpm\"\n\"dark outrun with arpeggios, 100 bpm\"\n"


def words(titles) -> list[str]:
    return [w.casefold() for t in titles for w in re.findall(r"[\w'-]+", t) if not re.fullmatch(r"[IVX]+", w)]


@pytest.mark.parametrize("seed", range(6))
def test_no_title_word_repeats_within_an_album(seed):
    album, titles = name_tracks(14, seed)
    every = words([album, *titles])
    assert len(every) == len(set(every)), (album, titles)
    assert len(set(titles)) == 14


def test_a_very_long_album_still_gets_distinct_titles():
    album, titles = name_tracks(70, 3)
    assert len(set(titles)) == 70 and album not in titles


@pytest.mark.parametrize("genre,expected,foreign", [
    ("Synthwave", "synth", ["tabla", "trumpet", "banjo", "harp"]),
    ("Lo-fi hip hop", "rhodes", ["supersaw", "taiko", "distorted"]),
    ("Ambient", "pad", ["808", "double-kick", "slap bass"]),
])
def test_builtin_prompts_fit_the_genre_and_name_tempo_and_key(genre, expected, foreign):
    album, titles, prompts = compose("night drives", genre, 10, seed=1)
    pal = palette_for(genre)
    text = " ".join(prompts).lower()
    assert expected in text and not any(word in text for word in foreign)
    for p in prompts:
        bpm = int(re.search(r"(\d+) bpm", p).group(1))
        assert pal.tempo[0] <= bpm <= pal.tempo[1]
        assert re.search(r"in [A-G](-sharp|-flat)? (major|minor)", p), p
    assert len(set(words([album, *titles]))) == len(words([album, *titles]))


def test_unknown_genre_gets_the_general_palette():
    assert palette_for("Polka Fusion").words == ()
    assert palette_for("dark TECHNO").words == palette_for("techno").words


def test_llm_names_untitled_tracks_in_one_stored_call(monkeypatch, tmp_path):
    names = '{"album_title": "Night Currents", "titles": ["Gated Hearts", "Outrun"]}'
    monkeypatch.setenv("ALBUMGEN_TEST_KEY", KEY)
    with LLMServer([chat(CSV_NO_TITLES), chat(names)]) as server:
        path = pipeline(tmp_path, server.base_url)
        rec, ctx = build(path)
        assert server.calls == 2
        assert rec.data["album_title"] == "Night Currents"
        assert [t["title"] for t in rec.data["tracks"]] == ["Gated Hearts", "Outrun"]
        stored = list((ctx.album_dir / "manifest/prompts").glob("names-*.json"))
        assert len(stored) == 1 and KEY.encode() not in stored[0].read_bytes()
        # The tracklist record gone (as after a crash before it committed): the stored
        # replies are reused, and the LLM is not asked again.
        ctx.manifest.forget("prompts", "tracklist") if hasattr(ctx.manifest, "forget") else None
        (ctx.album_dir / "manifest/prompts/tracklist.json").unlink()
        rec2, _ = build(path)
        assert server.calls == 2 and rec2.data == rec.data


def test_editing_one_untitled_prompt_renames_only_that_track_and_asks_only_for_it(monkeypatch, tmp_path):
    csv3 = CSV_NO_TITLES + "\"felt piano at dawn, 70 bpm\"\n"
    monkeypatch.setenv("ALBUMGEN_TEST_KEY", KEY)
    first = '{"album_title": "Night Currents", "titles": ["Gated Hearts", "Outrun", "Dawn Keys"]}'
    second = '{"album_title": "Ignored", "titles": ["Morning Felt"]}'
    with LLMServer([chat(csv3), chat(first)]) as server:
        rec, _ = build(pipeline(tmp_path, server.base_url, tracks=3))
    edited = csv3.replace("felt piano at dawn, 70 bpm", "felt piano at dusk, 64 bpm")
    with LLMServer([chat(edited), chat(second)]) as server:
        rec2, _ = build(pipeline(tmp_path, server.base_url, tracks=3, temperature=0.5))  # a new reply
        asked = json.dumps(server.requests[-1]["body"])
        assert server.calls == 2 and "piano at dusk" in asked and "gated drums" not in asked
    assert [t["title"] for t in rec2.data["tracks"]] == ["Gated Hearts", "Outrun", "Morning Felt"]
    assert rec2.data["album_title"] == "Night Currents"



def test_an_album_whose_tracks_are_all_titled_still_gets_a_real_album_title(monkeypatch, tmp_path):
    """With an LLM configured (here for rewrite) but nothing to name, no call is made for names
    and the album title comes from the title generator, not "Untitled Album"."""
    from helpers import write_pipeline

    monkeypatch.setenv("ALBUMGEN_TEST_KEY", KEY)
    with LLMServer([chat('{"prompts": ["dusty desert guitar, 90 bpm", "fast synthwave, 128 bpm"]}')]) as server:
        path = write_pipeline(tmp_path, {"album": {"title": None, "tracks": 2}, "prompts": {
            "source": "inline", "rewrite": True,
            "inline": [{"title": "Dust", "prompt": "desert guitar"}, {"title": "Neon Rain", "prompt": "fast synthwave"}],
            "llm": {"base_url": server.base_url, "model": "m", "api_key_env": "ALBUMGEN_TEST_KEY", "backoff": 0.01}}})
        rec, _ = build(path)
        assert server.calls == 1  # the rewrite only
    title = rec.data["album_title"]
    assert title and title != "Untitled Album" and not set(words([title])) & {"dust", "neon", "rain"}
