"""A take that jumps into another piece partway, when the other piece is of the same style:
the same instruments and often most of the same chords, but another tempo. The `jump`
label must hear it by its beat, and must not hear a take that cuts back into itself
(same tempo, same key: a seam, not a jump). Rates over many seeds are measured by
bench/pick_failures.py ("jump_same")."""
from __future__ import annotations

import numpy as np
import pytest
import take_fixtures as T

from albumgen.stages.pick.combine import combine
from albumgen.stages.pick.config import PickConfig
from albumgen.stages.pick.features import features

CFG = PickConfig()
SECONDS = 24.0


def style_of(seed: int) -> str:
    return T.STYLES[np.random.default_rng(seed).integers(len(T.STYLES))]


def checks_of(scored: dict) -> set[str]:
    return {c["check"] for c in scored["checks"]}


# A piano piece, a walking bass line and a band: each continues as another piece of its own
# style (another key, tempo and progression, the same instruments) from 35-65% of the take.
@pytest.mark.parametrize("seed", [1, 8, 14])
def test_a_jump_into_a_piece_of_the_same_style_is_labelled_where_it_happens(seed):
    style = style_of(seed)
    x = T.piece(seed, SECONDS)
    at = np.random.default_rng(seed).uniform(0.35, 0.65) * SECONDS  # where T.jump splices
    bad = T.jump(x, T.piece(seed + 10_000, SECONDS, style=style), seed=seed)
    clean_f, bad_f = features(x, T.SR), features(bad, T.SR)
    clean, jumped = combine([clean_f, bad_f], CFG)
    assert "jump" in checks_of(jumped), (style, bad_f["jump"])
    assert "jump" not in checks_of(clean), (style, clean_f["jump"])
    assert abs(bad_f["jump_at"] - at) <= 1.0
    assert clean["score"] > jumped["score"]


@pytest.mark.parametrize("seed", [1, 14])
def test_a_take_that_cuts_back_into_itself_is_no_jump(seed):
    # Same tempo and key after the cut, only the beat's phase moves: the seam check's job.
    x = T.piece(seed, SECONDS)
    f = features(T.seam(x, SECONDS / 2, seed=seed), T.SR)
    assert f["jump"] <= CFG.max_jump, f["jump"]


@pytest.mark.parametrize("seed", [104, 106])
def test_drums_that_stop_or_enter_at_the_same_tempo_are_no_jump(seed):
    # A breakdown: the groove changes, the tempo and the chords go on. The beat's contrast
    # rises a little (1.1-2; another piece's tempo gives about 2-7): with a band's sound
    # changing little, not enough to label it.
    for enter in (False, True):
        f = features(T.breakdown(seed, SECONDS, enter=enter), T.SR)
        assert f["jump"] <= CFG.max_jump, f["jump"]
