"""The one audio front end (albumgen.audio): decode, mono fold, loudness, resampler.

Every stage reads audio through it, so pick and master hear the same thing; the last
test fails as soon as a stage grows its own copy again."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest

from albumgen.audio.ffmpeg import decode
from albumgen.audio.io import read_audio, write_wav
from albumgen.audio.loudness import integrated_loudness, measure
from albumgen.audio.signal import resample, to_mono
from albumgen.errors import InputError, StageError

ROOT = Path(__file__).resolve().parents[2]
SR = 32000


def _sine(seconds: float, hz: float = 997.0, amp: float = 0.25, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_loudness_matches_bs1770_on_normal_audio():
    x = np.stack([_sine(3.0), _sine(3.0, 440)], axis=1)
    assert integrated_loudness(x, SR) == pytest.approx(pyloudnorm.Meter(SR).integrated_loudness(x.astype(np.float64)),
                                                       abs=1e-9)


def test_loudness_of_short_audio_is_one_block_not_refused():
    # A 0.2 s take is half a gating block: BS.1770 alone refuses it. Measured as one block
    # it reads what the same tone reads over 3 s (a steady tone's blocks are all equal).
    short, long = integrated_loudness(_sine(0.2), SR), integrated_loudness(_sine(3.0), SR)
    assert np.isfinite(short) and short == pytest.approx(long, abs=0.2)


def test_loudness_of_silence_and_of_nothing_is_minus_inf():
    assert integrated_loudness(np.zeros((SR, 2)), SR) == float("-inf")
    assert integrated_loudness(np.zeros(0), SR) == float("-inf")
    assert integrated_loudness(_sine(3.0, amp=1e-5), SR) == float("-inf")  # under the -70 LUFS gate
    assert measure(np.zeros(5), SR)[1].size == 0


def test_mono_fold_is_the_mean_and_scales_integer_pcm():
    stereo = np.stack([_sine(0.1), _sine(0.1)], axis=1)
    assert np.array_equal(to_mono(stereo), _sine(0.1))
    pcm = np.array([[16384, -16384]], dtype=np.int16)
    assert to_mono(pcm)[0] == 0.0 and to_mono(pcm[:, :1])[0] == pytest.approx(0.5)


def test_resampler_keeps_pitch_level_and_dtype():
    x = _sine(1.0, hz=1000.0)
    y = resample(x, SR, 44100)
    assert y.dtype == np.float32 and len(y) == 44100
    spec = np.abs(np.fft.rfft(y[4410:-4410] * np.hanning(len(y) - 8820)))
    assert np.fft.rfftfreq(len(y) - 8820, 1 / 44100)[spec.argmax()] == pytest.approx(1000.0, abs=3)
    assert np.abs(y[4410:-4410]).max() == pytest.approx(0.25, abs=0.005)
    assert resample(x, SR, SR) is x


def test_decode_reads_what_soundfile_cannot_and_says_what_is_wrong(tmp_path):
    write_wav(tmp_path / "m.wav", _sine(0.5), SR)
    mono, sr = decode(tmp_path / "m.wav")
    assert sr == SR and mono.shape == (SR // 2, 1) and np.allclose(mono[:, 0], _sine(0.5))
    both, _ = decode(tmp_path / "m.wav", channels=2)
    assert both.shape == (SR // 2, 2)
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"not audio at all" * 10)
    with pytest.raises(InputError, match="junk.mp3"):
        read_audio(junk)
    with pytest.raises(StageError):
        decode(junk, error=StageError)


# Each pattern is a private copy of something the front end owns.
_OWN_COPIES = {
    "a resampler": re.compile(r"resample_poly"),
    "a loudness meter": re.compile(r"import pyloudnorm|pyloudnorm\."),
    "a mono fold": re.compile(r"\.mean\(axis=1\) if .*ndim"),
    "an ffmpeg decode": re.compile(r"f32le"),
}


def test_every_stage_uses_the_one_front_end():
    found = []
    for path in sorted([*(ROOT / "stages").rglob("*.py"), *(ROOT / "src" / "albumgen").rglob("*.py")]):
        if "audio" in path.relative_to(ROOT).parts[:3] and path.parent.name == "audio":
            continue
        text = path.read_text("utf-8")
        found += [f"{path.relative_to(ROOT)}: {what}" for what, rx in _OWN_COPIES.items() if rx.search(text)]
    assert found == []
