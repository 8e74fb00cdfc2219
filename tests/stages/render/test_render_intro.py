"""render.intro: every take continues the user's audio and keeps its tokens (transformers backend;
the audiocraft backend's twin is in test_audiocraft_backend.py)."""
from __future__ import annotations

import numpy as np
import pytest
from render_album import build, takes, write_intro

from albumgen.engine.store.manifest import Manifest
from albumgen.errors import InputError
from albumgen.models.musicgen import load_musicgen
from albumgen.models.reference import intro_codes


def intro_kept(album, lm, intro, frames: int, window: int) -> dict:
    want = intro_codes(lm, intro, frames, window).numpy()[0]
    got = takes(album)
    for unit, (codes, _audio, _rec) in got.items():
        assert np.array_equal(codes[:, :want.shape[1]], want), unit
    return got


def test_takes_continue_the_intro_and_keep_its_tokens(tmp_path):
    intro = write_intro(tmp_path)
    album = build(tmp_path, {"intro": "intro.wav", "duration": 0.8})
    got = intro_kept(album, load_musicgen("tiny", "cpu"), intro, 40, 1500)
    assert len(got) == 4 and got["t01/take-1"][0].shape == (4, 40)
    assert len({c[:, 15:].tobytes() for c, _, _ in got.values()}) == 4  # what follows is each take's own
    keys = {r.unit: r.key for r in Manifest(album).records("render")}
    write_intro(tmp_path, freq=330.0)  # another intro: every take renders again
    album = build(tmp_path, {"intro": "intro.wav", "duration": 0.8})
    assert all(keys[r.unit] != r.key for r in Manifest(album).records("render"))


def test_an_intro_across_windows_and_bad_intros(tmp_path):
    intro = write_intro(tmp_path)
    album = build(tmp_path, {"intro": "intro.wav", "takes": 1, "duration": 1.6, "max_window": 1.0,
                             "extend_stride": 0.6})
    assert intro_kept(album, load_musicgen("tiny", "cpu"), intro, 80, 50)["t01/take-1"][0].shape == (4, 80)
    with pytest.raises(InputError, match=r"^render.intro: missing.wav not found"):
        build(tmp_path, {"intro": "missing.wav"})
    with pytest.raises(InputError, match=r"^render.intro: intro.wav is 0.30 s, longer than the take"):
        build(tmp_path, {"intro": "intro.wav", "duration": 0.2})


def test_a_stereo_model_keeps_both_channels_of_the_intro(tmp_path):
    intro = write_intro(tmp_path)  # left and right differ (the right is half as loud)
    album = build(tmp_path, {"model": "tiny-stereo", "intro": "intro.wav", "takes": 1, "duration": 0.5})
    got = intro_kept(album, load_musicgen("tiny-stereo", "cpu"), intro, 25, 1500)
    codes = got["t01/take-1"][0]
    assert codes.shape == (8, 25)  # codebooks interleave left (even) and right (odd)
