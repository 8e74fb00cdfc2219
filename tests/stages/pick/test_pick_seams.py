"""Seams where a take resumes at another point of itself in the same style: a pad's or a
piano's held notes vanish under the next ones. Band levels average that away; partial by
partial it stands out. Rates over many seeds are measured by bench/pick_failures.py."""
from __future__ import annotations

import numpy as np
import pytest
import take_fixtures as T
from scipy.ndimage import maximum_filter1d

from albumgen.stages.pick.analysis import HOP, N_FFT, RATE, analyse
from albumgen.stages.pick.change import JOIN_NEAR, _standout, cut_curve
from albumgen.stages.pick.combine import combine
from albumgen.stages.pick.config import PickConfig
from albumgen.stages.pick.features import features

CFG = PickConfig()
SECONDS = 24.0
JOINS = [12.0, 18.0]


@pytest.mark.parametrize("seed,join", [(1, 12.0), (12, 18.0)])  # a piano piece, an ambient one
def test_a_seam_in_held_notes_is_caught_partial_by_partial(seed, join):
    x = T.piece(seed, SECONDS)
    bad = T.seam(x, join, seed=seed)
    clean_f, bad_f = features(x, T.SR, JOINS), features(bad, T.SR, JOINS)
    scored = combine([clean_f, bad_f], CFG)
    assert "seam" in {c["check"] for c in scored[1]["checks"] if c["hard"]}
    assert scored[0]["rejects"] == [] and scored[0]["score"] > scored[1]["score"]
    # The band levels' cut alone does not stand out at the joins: the partials' does.
    a = analyse(bad, T.SR)
    at = [int(round((t * RATE - N_FFT / 2) / HOP)) for t in JOINS]
    band = _standout(maximum_filter1d(cut_curve(a), 2 * JOIN_NEAR + 1), at, int(0.5 * a.frame_rate))[0]
    assert band < CFG.max_seam < bad_f["seam"]
    assert bad_f["seam_partials"] > 2 * clean_f["seam_partials"]


def test_clean_takes_have_no_seam_at_their_joins():
    for seed in range(30, 36):
        f = features(T.piece(seed, SECONDS), T.SR, JOINS)
        assert f["seam"] < CFG.max_seam * 0.8, (seed, f["seam"])
        assert np.isfinite(f["seam_partials"])
