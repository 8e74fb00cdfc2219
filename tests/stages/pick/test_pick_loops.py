"""Music repeats by nature; a stuck generation repeats exactly. A vamp played for a whole
take (the same bars, the same drum pattern every bar, with a player's small differences)
is not a loop; a chunk of a take copied over and over to its end is, whichever take it
is in, and however alike the rest of the take is to itself."""
from __future__ import annotations

import loop_fixtures as L
import numpy as np
import pytest
import take_fixtures as T

from albumgen.stages.pick.analysis import analyse
from albumgen.stages.pick.combine import checks, choose, combine
from albumgen.stages.pick.config import PickConfig
from albumgen.stages.pick.features import features
from albumgen.stages.pick.loops import loop

CFG = PickConfig()
SECONDS = 24.0
# Vamps and pieces whose self-repetition at one lag is 0.9 or more, where a check on how
# alike a take is to itself called them loops.
VAMPS = (4, 9, 12)
PIECES = (1011, 1013)  # a drum-led electronic take and a band take: a bar pattern all through
_cache: dict = {}


def take(kind: str, seed: int) -> np.ndarray:
    if (kind, seed) not in _cache:
        _cache[kind, seed] = L.vamp(seed, SECONDS) if kind == "vamp" else T.piece(seed, SECONDS)
    return _cache[kind, seed]


def loop_s(x: np.ndarray, sr: int = T.SR) -> float:
    return loop(analyse(x, sr))["loop_s"]


CLEAN = [("vamp", s) for s in VAMPS] + [("piece", s) for s in PIECES]


@pytest.mark.parametrize("kind,seed", CLEAN)
def test_music_that_repeats_every_bar_is_no_loop(kind, seed):
    f = features(take(kind, seed), T.SR)
    assert f["repetition"] >= 0.9  # as alike to itself as the old check called a loop
    assert f["loop_s"] < 1.5
    assert "loop" not in {c["check"] for c in checks(f, CFG)}


@pytest.mark.parametrize("kind,seed", CLEAN)
def test_a_chunk_copied_to_the_end_is_a_loop(kind, seed):
    x = take(kind, seed)
    stuck = L.stuck_loop(x, seed)
    f = features(stuck, T.SR)
    assert f["loop_s"] > 3.5
    assert "loop" in {c["check"] for c in checks(f, CFG) if c["hard"]}
    scored = combine([f, features(x, T.SR)], CFG)
    assert choose(scored) == 1 and scored[0]["score"] < scored[1]["score"]


def test_the_loop_is_measured_where_it_is_and_its_period_found():
    x = take("vamp", 9)
    y = x.copy()
    at, seg = int(10.0 * T.SR), int(1.37 * T.SR)  # a period no whole number of analysis hops
    y[at:] = np.tile(x[at: at + seg], 20)[: len(y) - at]
    got = loop(analyse(y, T.SR))
    assert abs(got["loop_period"] - 1.37) < 0.01
    assert abs(got["loop_s"] - (SECONDS - 10.0 - 1.37)) < 1.0  # every copy after the first period


def test_a_bar_copied_exactly_is_a_loop_where_the_same_bar_played_is_not():
    # One bar of the vamp pasted over and over: the same notes and pattern as the vamp,
    # none of a player's differences.
    x = take("vamp", 4)
    bar = int(4 * 60.0 / np.random.default_rng(4).uniform(85, 150) * T.SR)
    pasted = np.tile(x[2 * bar: 3 * bar], int(np.ceil(len(x) / bar)))[: len(x)]
    assert loop_s(pasted) > 15.0
    assert loop_s(x) < 1.5


def test_a_drone_and_silence_copy_themselves_but_are_no_loop():
    t = np.arange(int(SECONDS * T.SR)) / T.SR
    drone = sum(np.sin(2 * np.pi * f * t) for f in (110.0, 165.0, 220.0))
    assert loop_s(drone) == 0.0
    gap = take("vamp", 9).copy()
    gap[int(6 * T.SR): int(18 * T.SR)] = 0.0  # twelve seconds of digital silence
    assert loop_s(gap) < 1.5


def test_blind_to_gain_rate_and_format():
    x = L.stuck_loop(take("vamp", 12), 12)
    ref = loop_s(x)
    assert abs(loop_s(x * 10 ** (-26 / 20)) - ref) < 0.3
    y = np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16)
    assert abs(loop_s(np.stack([y, y], axis=1)) - ref) < 0.3
    from albumgen.audio.signal import resample

    assert abs(loop_s(resample(x, T.SR, 48000), 48000) - ref) < 0.5
