"""Key and tempo estimation (albumgen.audio.music) on synthetic music with known truth."""
from __future__ import annotations

import pytest
from music_fixtures import SR, chords, clicks, drums, song

from albumgen.audio.music import analyse, camelot, initial_key_tag, key_distance, parse_key, tempo_jump


@pytest.mark.parametrize("tonic,mode,truth", [(0, "major", "C major"), (9, "minor", "A minor"),
                                              (6, "major", "F# major")])
def test_key_of_a_chord_progression(tonic, mode, truth):
    assert analyse(chords(tonic, mode), SR).key == truth


def test_key_with_drums_on_top():
    assert analyse(song(9, "minor", 128), SR).key == "A minor"


@pytest.mark.parametrize("bpm", [90, 120, 128])
@pytest.mark.parametrize("pattern", [clicks, drums])
def test_tempo_within_two_percent(pattern, bpm):
    m = analyse(pattern(bpm), SR)
    assert m.bpm == pytest.approx(bpm, rel=0.02)
    assert len(m.beats) >= 12 * bpm / 60 - 2  # every beat tracked, not every other


def test_silence_has_no_tempo_and_a_neutral_key():
    import numpy as np

    m = analyse(np.zeros(SR * 3), SR)
    assert m.bpm is None and m.key_strength == 0.0 and len(m.beats) == 0


def test_camelot_wheel():
    assert [camelot(k) for k in ("C major", "A minor", "G major", "F# major", "D# minor", "Bb major")] == \
        ["8B", "8A", "9B", "2B", "2A", "6B"]
    assert key_distance("C major", "C major") == 0
    assert key_distance("C major", "A minor") == 1  # relative minor
    assert key_distance("C major", "G major") == 1 and key_distance("C major", "F major") == 1
    assert key_distance("C major", "F# major") == 6
    assert parse_key("eb minor") == (3, "minor") and initial_key_tag("F# minor") == "F#m"
    assert tempo_jump(60, 120) == pytest.approx(1.0) and tempo_jump(None, 120) == 0.0
