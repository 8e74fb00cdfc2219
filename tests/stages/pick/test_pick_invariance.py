"""A take's features, checks and score must not depend on how it was delivered: gain,
sample rate, mono or stereo, int16 or float, or the file format it was read from."""
from __future__ import annotations

import audio_fixtures as F
import numpy as np
import pytest
import soundfile as sf

from albumgen.audio.io import read_audio
from albumgen.stages.pick.combine import checks, combine
from albumgen.stages.pick.config import PickConfig
from albumgen.stages.pick.features import features

CFG = PickConfig()
GAIN = 10 ** (-26 / 20)
# How far a feature may move between deliveries of the same take. At other rates the
# fixture is synthesised anew (its noise draws differ), so those move most; every check
# threshold is much further away than these.
TOL = {"clipping": 2e-4, "end_decay": 0.02, "flatness": 0.03, "flatness_db": 2.5, "harsh": 0.005,
       "hf_excess_db": 3.0, "novelty_db": 0.5, "pulse_clarity": 0.08, "repetition": 0.05, "seconds": 0.01,
       "silence": 0.01, "tempo": 2.0, "tempo_drift": 0.01, "tonal_share": 0.02, "trailing_silence": 0.01,
       "hf_db": 3.5, "dropouts": 0.0, "stuck_s": 0.15, "hum_db": 4.0, "jump": 0.15, "seam": 0.0, "loop_s": 0.3, "hiss_db": 2.5}
REFS = ["clean", "snr10", "drone", "hard_cut"]


def make(name: str, sr: int = F.SR) -> np.ndarray:
    if name == "clean":
        return F.music(sr)
    if name == "snr10":
        return F.with_noise(10, sr)
    return F.FAILURES[name][1](sr)


_ref: dict = {}


def reference() -> list[dict]:
    if not _ref:
        _ref["feats"] = [features(make(n), F.SR) for n in REFS]
    return _ref["feats"]


def assert_same(f: dict, ref: dict) -> None:
    for k, tol in TOL.items():
        assert abs(f[k] - ref[k]) <= tol, (k, f[k], ref[k])
    assert [c["check"] for c in checks(f, CFG)] == [c["check"] for c in checks(ref, CFG)]


def assert_scores_hold(variant: list[dict]) -> None:
    ref = [s["score"] for s in combine(reference(), CFG)]
    got = [s["score"] for s in combine(variant, CFG)]
    assert np.allclose(got, ref, atol=0.05), (got, ref)
    assert int(np.argmax(got)) == int(np.argmax(ref)) == 0


def test_gain_minus_26_db():
    variant = [features(make(n) * GAIN, F.SR) for n in REFS]
    for f, ref in zip(variant, reference()):
        assert_same(f, ref)
    assert_scores_hold(variant)


@pytest.mark.parametrize("sr", [44100, 48000])
def test_sample_rate(sr):
    variant = [features(make(n, sr), sr) for n in REFS]
    for f, ref in zip(variant, reference()):
        assert_same(f, ref)
    assert_scores_hold(variant)


def test_stereo_equals_mono():
    variant = [features(F.stereo(make(n)), F.SR) for n in REFS]
    for f, ref in zip(variant, reference()):
        assert_same(f, ref)
    assert_scores_hold(variant)


def test_int16_array_equals_float():
    variant = [features(F.to_int16(make(n)), F.SR) for n in REFS]
    for f, ref in zip(variant, reference()):
        assert_same(f, ref)
    assert_scores_hold(variant)


def test_quiet_int16_stereo_file_at_48k_equals_the_float_mono_original(tmp_path):
    """Everything at once, through a real file, as `albumgen score` would read it."""
    variant = []
    for n in REFS:
        path = tmp_path / f"{n}.wav"
        sf.write(path, F.stereo(make(n, 48000) * GAIN), 48000, subtype="PCM_16")
        audio, sr = read_audio(path)
        assert sr == 48000 and audio.shape[1] == 2
        variant.append(features(audio, sr))
    for f, ref in zip(variant, reference()):
        assert_same(f, ref)
    assert_scores_hold(variant)


def test_clipping_survives_gain():
    assert checks(features(F.clipped() * GAIN, F.SR), CFG)[0]["check"] == "clipping"
