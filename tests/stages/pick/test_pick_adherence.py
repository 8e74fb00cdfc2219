"""Prompt adherence: a take at the asked tempo and key scores above one that is not, and
the one that is not is labelled."""
from __future__ import annotations

import pytest
from music_fixtures import SR, song

from albumgen.stages.pick import adherence
from albumgen.stages.pick.config import PickConfig
from albumgen.stages.pick.scoring import score_group


def test_what_a_prompt_asks():
    assert adherence.asked("driving synthwave track with felt piano, 120 bpm, in A minor, slow build") == \
        {"bpm": 120.0, "key": "A minor"}
    assert adherence.asked("lofi, 84 BPM, Bb major") == {"bpm": 84.0, "key": "A# major"}
    assert adherence.asked("a minor chord on a piano, 7 bpm") == {"bpm": None, "key": None}
    assert adherence.asked(None) == {"bpm": None, "key": None}


def _group(prompt, takes):
    items = [(name, (lambda x=x: (x, SR))) for name, x in takes]
    return {t["name"]: t for t in score_group(items, PickConfig(), prompt).takes}


def test_a_prompt_asking_120_bpm_scores_a_120_bpm_take_above_a_90_bpm_one():
    takes = _group("house track, 120 bpm", [("at90", song(9, "minor", 90.0, 12.0)),
                                            ("at120", song(9, "minor", 120.0, 12.0, seed=1))])
    assert takes["at120"]["score"] > takes["at90"]["score"]
    assert takes["at120"]["z"]["tempo_match"] > takes["at90"]["z"]["tempo_match"]
    assert "tempo_mismatch" in [c["check"] for c in takes["at90"]["checks"]]
    assert "tempo_mismatch" not in [c["check"] for c in takes["at120"]["checks"]]
    assert takes["at120"]["heard"]["bpm"] == pytest.approx(120, rel=0.02) and takes["at120"]["asked"]["bpm"] == 120


def test_a_take_in_another_key_is_labelled_key_mismatch():
    takes = _group("ballad in A minor, 100 bpm", [("Am", song(9, "minor", 100.0, 12.0)),
                                                  ("F#", song(6, "major", 100.0, 12.0, seed=1))])
    assert takes["Am"]["features"]["key_match"] == 1.0 and takes["Am"]["score"] > takes["F#"]["score"]
    assert [c["check"] for c in takes["F#"]["checks"] if c["check"].endswith("mismatch")] == ["key_mismatch"]
    assert not any(c["hard"] for c in takes["F#"]["checks"] if c["check"] == "key_mismatch")  # a label only


def test_a_prompt_that_asks_nothing_adds_nothing():
    takes = _group("ambient pads", [("a", song(0, "major", 100.0, 6.0))])
    assert "tempo_match" not in takes["a"]["features"] and "heard" not in takes["a"]


def test_the_llm_is_asked_for_an_explicit_tempo_and_key():
    from albumgen.stages.prompts.llm import SYSTEM

    # What it is told to write is what adherence can read back.
    assert adherence.asked(SYSTEM) == {"bpm": 96.0, "key": "A minor"}
