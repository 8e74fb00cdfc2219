"""Endings: a take is cut at a phrase boundary near its end, or faded when it has none,
and no mastered file ends on sound."""
from __future__ import annotations

import numpy as np
import pytest
from master_album import make_album, run_master
from music_fixtures import SR, drums, song, with_phrase_end

from albumgen.audio.ffmpeg import decode
from albumgen.audio.music import analyse
from albumgen.stages.master import ending


def _find(x: np.ndarray, mode: str = "auto", asked_end: float | None = None) -> ending.Ending:
    m = analyse(x, SR)
    return ending.find(np.stack([x, x], axis=1), SR, list(m.beats), m.bpm, asked_end, mode, 1.5)


def test_cut_at_a_known_phrase_boundary_within_one_beat():
    end = _find(with_phrase_end(bpm=120.0, end_at=16.0))
    assert end.kind == "cut" and abs(end.at - 16.0) <= 0.5  # one beat at 120 bpm
    assert end.dip_db >= ending.CLEAR_DIP_DB and "phrase boundary" in end.why


def test_cut_near_the_asked_end_when_the_take_runs_on():
    # render.tail: the take runs 4 s past the asked 16 s; the boundary is at the asked end.
    end = _find(with_phrase_end(bpm=100.0, seconds=20.0, end_at=16.8), asked_end=16.0)
    assert end.kind == "cut" and abs(end.at - 16.8) <= 0.6


def test_no_clear_boundary_falls_back_to_a_fade():
    end = _find(song(0, "major", 120.0, seconds=12.0))
    assert end.kind == "fade" and "no phrase boundary" in end.why
    assert _find(song(0, "major", 120.0, 12.0), mode="fade").kind == "fade"
    # No beat at all (a held chord): a fade onto the last sample, even when cut is asked for.
    t = np.arange(SR * 6) / SR
    held = 0.3 * np.sin(2 * np.pi * 220 * t)
    end = _find(held, mode="cut")
    assert end.kind == "fade" and end.at == pytest.approx(6.0)


def test_cut_mode_cuts_on_the_best_beat_even_without_a_clear_dip():
    end = _find(drums(120.0, seconds=12.0), mode="cut")
    assert end.kind == "cut" and "not clear" in end.why


def test_apply_releases_into_silence_at_the_ending():
    x = np.ones((SR * 2, 2), dtype=np.float32)
    y = ending.apply(x, SR, ending.Ending("cut", 1.0, 0.1, "test"))
    quiet = int(ending.END_SILENCE * SR)
    assert len(y) == SR and y[SR // 2, 0] == 1.0
    assert np.all(np.diff(y[SR - quiet - int(0.1 * SR):SR - quiet, 0]) <= 0) and not y[SR - quiet:].any()


@pytest.fixture(scope="module")
def mastered(tmp_path_factory):
    takes = [("Phrase", with_phrase_end(120.0, 20.0, 16.0)), ("Steady", song(9, "minor", 128.0, 12.0)),
             ("Held", 0.5 * np.sin(2 * np.pi * 220 * np.arange(SR * 4) / SR))]
    ctx = make_album(tmp_path_factory.mktemp("ending"),
                     [(title, np.stack([x, x], axis=1).astype(np.float32)) for title, x in takes])
    run_master(ctx)
    return ctx


def test_mastered_files_end_in_silence_and_record_why(mastered):
    ctx = mastered
    kinds = {}
    for tid in ("t01", "t02", "t03"):
        rec = ctx.manifest.record("master", tid).data
        kinds[tid] = rec["ending"]["kind"]
        audio, sr = decode(ctx.album_dir / rec["file"])
        tail = audio[-int(0.05 * sr):]
        assert 20 * np.log10(np.abs(tail).max() + 1e-12) < -40.0, tid
        assert rec["ending"]["why"]
    assert kinds == {"t01": "cut", "t02": "fade", "t03": "fade"}
    assert abs(ctx.manifest.record("master", "t01").data["ending"]["at"] - 16.0) <= 0.5


def test_key_and_tempo_tags(mastered):
    from mutagen.id3 import ID3

    rec = mastered.manifest.record("master", "t02").data
    id3 = ID3(mastered.album_dir / rec["file"])
    assert str(id3["TKEY"]) == "Am" and abs(int(str(id3["TBPM"])) - 128) <= 2
    held = ID3(mastered.album_dir / mastered.manifest.record("master", "t03").data["file"])
    assert "TBPM" not in held  # no steady beat: no tempo claimed
