"""The cleaner: exact outcomes on what chatbots write, and its properties on any text."""
from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from albumgen.stages.prompts.clean import Cleaned, clean_candidates, clean_one, clean_prompts, clean_title, dedupe_key
from albumgen.stages.prompts.parse import Candidate, parse_text


@pytest.mark.parametrize("raw, cleaned", [
    ('1. "Create an 80s retrowave track with pulsing synths",', "80s retrowave track with pulsing synths"),
    ("- **Dreamy** ambient pads, _slow_ and `wide`", "Dreamy ambient pads, slow and wide"),
    ("  3)   “Lo-fi hip hop with vinyl crackle”  ", "Lo-fi hip hop with vinyl crackle"),
    ("* 2. - nested markers, 90 bpm", "Nested markers, 90 bpm"),
    ("```Synthwave\u200b with gated\u00a0drums```", "Synthwave with gated drums"),
    ("Experiment with vocoder vocals over a driving bassline", "Experiment with vocoder synth lead over a driving bassline"),
    ("Ethereal track with soulful female vocals and lyrics about lost love",
     "Ethereal track with synth lead evoking lost love"),
    ("Track 4: [Deep house](http://x.y) groove, 122 bpm", "Deep house groove, 122 bpm"),
    ("ﬁlm score for strings — slow, 60 bpm", "Film score for strings - slow, 60 bpm"),
])
def test_clean_one_strips_decoration_and_rewrites_vocals(raw, cleaned):
    assert clean_one(raw) == cleaned


def test_clean_one_caps_length_at_a_word_boundary():
    assert clean_one("ambient drone " * 10, max_chars=30) == "Ambient drone ambient drone"


def test_drops_what_musicgen_cannot_do_and_says_why():
    raw = ["Incorporate retro synthwave aesthetics into the album artwork",
           "Design the album cover in neon pink",
           "Make a music video for the single",
           "Write lyrics about a summer romance",
           "16-bit video game soundtrack with chiptune arpeggios",
           "1.", "   ", "**", "80s retrowave track with pulsing synths",
           "80s Retrowave track, with pulsing synths!",  # same words: a duplicate
           "80s retrowave track with pulsing synths and drums"]  # near-duplicate
    out = clean_candidates([Candidate(r) for r in raw])
    assert [c.prompt for c in out.kept] == ["16-bit video game soundtrack with chiptune arpeggios",
                                            "80s retrowave track with pulsing synths"]
    assert out.dropped == Counter({"not audio (artwork, cover, video...)": 3, "lyrics (MusicGen makes instrumentals)": 1,
                                   "empty": 3, "duplicates": 1, "near-duplicates": 1})
    assert out.why() == ("1 duplicate, 3 empty, 1 lyrics (MusicGen makes instrumentals), 1 near-duplicate, "
                         "3 not audio (artwork, cover, video...)")


def test_distinct_prompts_sharing_a_style_are_kept():
    raw = ["dreamy synthwave, felt piano and cello, 92 bpm, slow build",
           "driving synthwave, drum machine and sub bass, 128 bpm, steady groove",
           "melancholic synthwave, marimba and strings, 70 bpm, verse-chorus form"]
    assert len(clean_prompts(raw)) == 3


def test_titles_lose_decoration_but_keep_their_words():
    assert clean_title('**Track 3: "Neon Rain"**') == "Neon Rain"
    assert clean_title(None) == ""


# -- properties ---------------------------------------------------------------------------
_chatbot = st.sampled_from(["1. ", "- ", "* ", "**", '"', "“", "```", "\n", "  ", "Track 2: ", "vocals ", "lyrics ",
                            "album artwork ", "Create a ", "synthwave ", "90 bpm", ", ", "\u200b", "ß", "ﬁ", "#",
                            "{", "}", "[", "]", '"prompt": ', '"tracks": [', "| ", "|---|", "title,prompt\n"])
_texts = st.one_of(st.text(max_size=200), st.lists(st.one_of(_chatbot, st.text(max_size=8)), max_size=30).map("".join))


@settings(max_examples=300, deadline=None)
@given(_texts, st.integers(min_value=20, max_value=120))
def test_clean_one_is_idempotent_and_capped(text, max_chars):
    once = clean_one(text, max_chars)
    assert clean_one(once, max_chars) == once
    assert len(once) <= max_chars


@settings(max_examples=200, deadline=None)
@given(st.lists(_texts, max_size=12))
def test_clean_prompts_is_idempotent_never_empty_never_duplicate(raw):
    once = clean_prompts(raw, max_chars=60)
    assert clean_prompts(once, max_chars=60) == once
    assert all(p.strip() for p in once)
    assert len({dedupe_key(p) for p in once}) == len(once)


@settings(max_examples=200, deadline=None)
@given(_texts)
def test_parse_then_clean_never_crashes_on_any_reply(text):
    cleaned = clean_candidates(parse_text(text).candidates)
    assert isinstance(cleaned, Cleaned)
    assert all(c.prompt and c.prompt == c.prompt.strip() for c in cleaned.kept)
