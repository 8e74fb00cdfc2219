"""Edits before loudness: stereo, trim silence, fades, resampling."""
from __future__ import annotations

from math import gcd

import numpy as np
from scipy import signal

_FRAME = 0.01  # s: trim decides per 10 ms, so one stray sample does not count as music
_PAD = 0.01  # s kept before the first and after the last loud frame: attacks are not cut


def to_stereo(audio: np.ndarray) -> np.ndarray:
    """Mono takes become dual mono: a player sends mono to both speakers anyway, and
    BS.1770 only measures what it is given, so a mono file measured as one channel would
    play 3 dB louder than a stereo track at the same LUFS."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[:, None]
    if audio.shape[1] == 1:
        return np.repeat(audio, 2, axis=1)
    return audio[:, :2]


def trim_silence(audio: np.ndarray, sr: int, threshold_db: float) -> np.ndarray:
    """Cut leading and trailing frames quieter than threshold_db below the loudest frame.
    Relative, so a quiet take keeps its quiet intro."""
    frame = max(1, int(_FRAME * sr))
    n = len(audio) // frame * frame
    if n == 0:
        return audio
    level = np.abs(audio[:n]).max(axis=1).reshape(-1, frame).max(axis=1)
    top = level.max()
    if top <= 0:
        return audio
    loud = np.flatnonzero(level > top * 10 ** (threshold_db / 20))
    pad = int(_PAD * sr)
    start = max(0, loud[0] * frame - pad)
    end = min(len(audio), (loud[-1] + 1) * frame + pad)
    return audio[start:end]


def fade(audio: np.ndarray, sr: int, fade_in: float, fade_out: float) -> np.ndarray:
    """Raised-cosine fades: no corner at either end, so no click."""
    audio = np.array(audio, dtype=np.float32, copy=True)
    n_in = min(len(audio), int(round(fade_in * sr)))
    n_out = min(len(audio), int(round(fade_out * sr)))
    if n_in:
        audio[:n_in] *= (0.5 - 0.5 * np.cos(np.linspace(0, np.pi, n_in, dtype=np.float32)))[:, None]
    if n_out:
        audio[len(audio) - n_out:] *= (0.5 + 0.5 * np.cos(np.linspace(0, np.pi, n_out, dtype=np.float32)))[:, None]
    return audio


def resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase (32 kHz -> 44.1 kHz is 441/320) with a Kaiser-windowed anti-alias filter."""
    if sr_in == sr_out:
        return audio
    g = gcd(sr_in, sr_out)
    return signal.resample_poly(audio, sr_out // g, sr_in // g, axis=0, window=("kaiser", 8.0)).astype(np.float32)


def prepare(audio: np.ndarray, sr: int, cfg) -> np.ndarray:
    """Stereo, trimmed and faded, at the take's own rate (what loudness analysis reads)."""
    audio = to_stereo(audio)
    if cfg.trim:
        audio = trim_silence(audio, sr, cfg.trim_db)
    return fade(audio, sr, cfg.fade_in, cfg.fade_out)
