"""Whole songs (48 kHz stereo, three minutes, a sung voice): the picker's decisions on them.
A held sung note is not mains hum, a song is not a drone, and a quiet ballad's takes are
not dull beside each other; none is rejected. Songs are made once per session: each is
three minutes of audio."""
from __future__ import annotations

import numpy as np
import pytest
import song_fixtures as S

from albumgen.audio.loudness import integrated_loudness
from albumgen.stages.pick.combine import combine, with_group
from albumgen.stages.pick.config import PickConfig
from albumgen.stages.pick.features import features

pytestmark = pytest.mark.slow  # minutes of audio analysed

CFG = PickConfig()
SECONDS = 180.0
# A pop song alone (hum and drone judge a take by itself); two takes each of a quiet ballad
# (one sung low, one high) and of held notes, so dull has a group to compare with.
KINDS = {"song": (S.song, (1,)), "ballad": (S.ballad, (3, 4)), "held": (S.held_notes, (5, 6))}
WATCHED = {"hum", "drone", "dull"}
_cache: dict = {}


def audio(kind: str, seed: int) -> np.ndarray:
    if (kind, seed) not in _cache:
        make = KINDS[kind][0]
        _cache[(kind, seed)] = make(seed) if kind == "held" else make(seed, SECONDS)
    return _cache[(kind, seed)]


def group(kind: str) -> list[dict]:
    if kind not in _cache:
        _cache[kind] = [features(audio(kind, s), S.SR) for s in KINDS[kind][1]]
    return _cache[kind]


def test_the_songs_are_whole_songs():
    x = audio("song", 1)
    assert x.shape == (int(SECONDS * S.SR), 2) and not np.array_equal(x[:, 0], x[:, 1])
    quiet = audio("ballad", 3)
    assert integrated_loudness(quiet, S.SR) < integrated_loudness(x, S.SR) - 12  # a quiet master
    # The held notes sit on mains harmonics: the strongest low partial of the first is 100 Hz.
    held = audio("held", 5)[int(1.5 * S.SR): int(4.5 * S.SR), 0]
    spec = np.abs(np.fft.rfft(held * np.hanning(len(held))))
    f = np.fft.rfftfreq(len(held), 1 / S.SR)
    low = (f > 70) & (f < 140)
    assert abs(f[low][np.argmax(spec[low])] - 100.0) < 3.0


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_no_hum_drone_or_dull_and_nothing_rejected(kind):
    scored = combine(group(kind), CFG)
    for s in scored:
        assert not {c["check"] for c in s["checks"]} & WATCHED, s["checks"]
        assert s["rejects"] == []


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_measures_sit_well_clear_of_their_thresholds(kind):
    for f in group(kind):
        assert f["hum_db"] < CFG.max_hum_db / 2
        assert f["novelty_db"] > 2 * CFG.min_novelty_db
    # A ballad sung low is darker than one sung high, by design: under the dull line still.
    assert max(g["dull_db"] for g in with_group(group(kind))) < CFG.max_dull_db - 2
