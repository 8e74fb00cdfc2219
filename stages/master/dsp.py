"""Mastering DSP: trim, fade, loudness to target under a true-peak ceiling, resample."""
from __future__ import annotations

from math import gcd

import numpy as np
import pyloudnorm
from scipy import signal


def trim_silence(audio: np.ndarray, sr: int, threshold_db: float) -> np.ndarray:
    level = np.max(np.abs(audio), axis=1)
    loud = np.flatnonzero(level > 10 ** (threshold_db / 20))
    if loud.size == 0:
        return audio
    pad = int(0.01 * sr)  # keep 10 ms so attacks are not cut
    return audio[max(0, loud[0] - pad): loud[-1] + 1 + pad]


def fade(audio: np.ndarray, sr: int, fade_in: float, fade_out: float) -> np.ndarray:
    audio = audio.copy()
    n_in = min(len(audio), int(fade_in * sr))
    n_out = min(len(audio), int(fade_out * sr))
    if n_in:
        audio[:n_in] *= np.linspace(0, 1, n_in, dtype=audio.dtype)[:, None]
    if n_out:
        audio[len(audio) - n_out:] *= np.linspace(1, 0, n_out, dtype=audio.dtype)[:, None]
    return audio


def resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    if sr_in == sr_out:
        return audio
    g = gcd(sr_in, sr_out)
    return signal.resample_poly(audio, sr_out // g, sr_in // g, axis=0).astype(np.float32)


def integrated_loudness(audio: np.ndarray, sr: int) -> float:
    try:
        return float(pyloudnorm.Meter(sr).integrated_loudness(audio.astype(np.float64)))
    except ValueError:
        return float("-inf")


def true_peak_db(audio: np.ndarray) -> float:
    """4x oversampled peak (BS.1770 annex 2)."""
    up = signal.resample_poly(audio, 4, 1, axis=0)
    return float(20 * np.log10(np.max(np.abs(up)) + 1e-12))


def normalise(audio: np.ndarray, sr: int, target_lufs: float, ceiling_db: float) -> tuple[np.ndarray, dict]:
    before = integrated_loudness(audio, sr)
    gain_db = target_lufs - before if np.isfinite(before) else 0.0
    out = audio * 10 ** (gain_db / 20)
    tp = true_peak_db(out)
    if tp > ceiling_db:
        out = out * 10 ** ((ceiling_db - tp - 0.05) / 20)
    return out.astype(np.float32), {"loudness_in": before, "gain_db": gain_db,
                                    "loudness_out": integrated_loudness(out, sr), "true_peak": true_peak_db(out)}
