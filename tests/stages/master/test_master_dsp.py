"""The mastering DSP on its own: limiter, trim, fades, resampler, loudness pooling."""
from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest
from master_album import SR, music, variant

from albumgen.audio.signal import resample
from albumgen.stages.master import dsp, limiter, loudness
from albumgen.stages.master.config import MasterConfig


@pytest.mark.parametrize("kind", ["quiet", "loud", "clipped", "overs"])
def test_limiter_holds_true_peak_without_clipping(kind):
    x = resample(variant(kind, seed=3), SR, 44100)
    x = x * np.float32(10 ** ((-6 - loudness.integrated_loudness(x, 44100)) / 20))  # push it hard
    y, reduction = limiter.limit(x, 44100, -1.0)
    assert loudness.true_peak_db(y) <= -1.0 + 0.01
    assert reduction > 1.0
    # A gain, not a clipper: every frame is the input times one factor in (0, 1], the
    # same on both channels, and the factor moves smoothly (no step > 0.5 dB per frame).
    loud = np.abs(x[:, 0]) > 1e-3
    ratio = y[loud, 0] / x[loud, 0]
    assert ratio.min() > 0 and ratio.max() <= 1.0 + 1e-6
    assert np.allclose(y[loud, 1] / x[loud, 1], ratio, rtol=1e-4, atol=1e-6)
    steps = np.abs(np.diff(20 * np.log10(ratio)))
    assert steps.max() < 0.5


def test_limiter_leaves_quiet_audio_alone():
    x = music(1.0) * 0.5
    y, reduction = limiter.limit(x, SR, -1.0)
    assert reduction == 0.0 and np.array_equal(x, y)


def test_limiter_attacks_ahead_of_a_peak():
    x = np.full((SR, 2), 0.1, dtype=np.float32)
    x[SR // 2] = 1.0  # one spike: gain must already be falling 5 ms before it
    att = limiter.gain_curve_db(loudness.peak_envelope(x), SR, -6.0)
    ahead = int(limiter.LOOKAHEAD * SR)
    assert att[SR // 2 - ahead // 2] > 0 and att[SR // 2 - 2 * ahead] == 0
    assert 20 * np.log10(1.0) - att[SR // 2] <= -6.0 + 1e-6


def test_trim_and_fade():
    x = np.zeros((SR * 3, 2), dtype=np.float32)
    x[SR:2 * SR] = music(1.0, channels=2) * 0.01  # quiet music between two seconds of silence
    x[:SR] = 1e-6  # hiss far below the music is silence too
    y = dsp.trim_silence(x, SR, -50)
    assert abs(len(y) - SR) <= 2 * int(0.01 * SR) + int(0.01 * SR)
    f = dsp.fade(np.ones((SR, 2), dtype=np.float32), SR, 0.1, 0.5)
    assert f[0, 0] == 0 and f[-1, 0] == 0 and f[int(0.1 * SR), 0] == 1 and f[SR // 2 - 1, 0] == 1
    assert np.all(np.diff(f[: int(0.1 * SR), 0]) >= 0) and np.all(np.diff(f[-int(0.5 * SR):, 0]) <= 0)


def test_prepare_makes_mono_dual_mono():
    x = music(1.0, channels=1)
    y, _ = dsp.prepare(x, SR, MasterConfig(trim=False, fade_in=0, fade_out=0))
    y = y[:SR]  # then the ending's silence
    assert y.shape == (SR, 2) and np.array_equal(y[:, 0], y[:, 1])


def test_resampler_keeps_pitch_and_length():
    t = np.arange(SR * 2) / SR
    x = np.sin(2 * np.pi * 1000 * t)[:, None].astype(np.float32)
    y = resample(x, SR, 44100)
    assert len(y) == 2 * 44100
    spectrum = np.abs(np.fft.rfft(y[:, 0] * np.hanning(len(y))))
    assert abs(np.argmax(spectrum) * 44100 / len(y) - 1000) < 1
    # Nothing new above the old Nyquist: the anti-imaging filter works.
    freqs = np.fft.rfftfreq(len(y), 1 / 44100)
    assert 20 * np.log10(spectrum[freqs > 16500].max() / spectrum.max()) < -90


def test_pooled_loudness_is_bs1770_of_the_whole_album():
    a, b = variant("loud", 1) * 0.3, variant("loud", 2) * 0.15
    la, blocks_a = loudness.measure(a, SR)
    lb, blocks_b = loudness.measure(b, SR)
    assert la == pytest.approx(pyloudnorm.Meter(SR).integrated_loudness(a.astype(np.float64)), abs=1e-9)
    assert loudness.pooled_loudness([blocks_a], [0]) == pytest.approx(la, abs=1e-9)
    whole = pyloudnorm.Meter(SR).integrated_loudness(np.concatenate([a, b]).astype(np.float64))
    # The two differ only by the blocks that straddle the join.
    assert loudness.pooled_loudness([blocks_a, blocks_b], [0, 0]) == pytest.approx(whole, abs=0.08)
    # A gain on one track moves its blocks by exactly that gain.
    _, blocks_b6 = loudness.measure(b * 2, SR)
    assert loudness.pooled_loudness([blocks_a, blocks_b], [0, 20 * np.log10(2)]) == \
        pytest.approx(loudness.pooled_loudness([blocks_a, blocks_b6], [0, 0]), abs=1e-6)


def test_silence_measures_as_minus_inf_and_short_audio_as_one_block():
    assert loudness.integrated_loudness(np.zeros((SR, 2)), SR) == float("-inf")
    assert np.isfinite(loudness.integrated_loudness(music(0.2), SR))


def test_peak_envelope_in_chunks_equals_the_whole_signal_oversampled():
    x = np.random.default_rng(0).standard_normal((300_000, 2)).astype(np.float32)  # spans two chunks
    whole = np.abs(resample(x, 1, 4)).reshape(len(x), 8).max(axis=1)
    assert np.array_equal(loudness.peak_envelope(x), whole)
    # A full-scale sine at fs/4 with a 45 degree phase peaks between samples, 3 dB over them.
    n = np.arange(4000)
    s = np.sin(np.pi / 2 * n + np.pi / 4).astype(np.float32)
    assert np.abs(s).max() == pytest.approx(0.7071, abs=1e-4)
    assert 0.0 <= loudness.true_peak_db(s[:, None]) < 0.15  # filter ripple reads high: the safe side


def test_warnings_name_the_album_file_not_its_temporary(tmp_path, caplog):
    """A track too peaky to reach the target is mastered into a temporary beside the album
    file; the warning must name the file the user will find ("01 - X.mp3")."""
    import logging

    from albumgen.engine.store import atomic
    from albumgen.stages.master import track

    spikes = np.zeros((SR * 4, 2), np.float32)
    spikes[:: SR // 4] = 1.0  # clicks in silence: 12 dB more gain cannot reach -14 LUFS
    final = tmp_path / "01 - Clicks.mp3"
    with caplog.at_level(logging.WARNING, logger="albumgen"), atomic.atomic_path(final) as tmp:
        m = track.master(spikes, SR, MasterConfig(), 0.0, False, tmp, final.name)
    assert m["loudness"] < MasterConfig().loudness - 0.5
    warned = [r.getMessage() for r in caplog.records if "under the" in r.getMessage()]
    assert warned and warned[0].startswith("master: 01 - Clicks.mp3: ") and ".tmp" not in warned[0]
