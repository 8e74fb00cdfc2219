"""The sample-level helpers every stage shares: one mono fold, one resampler.

One of each so that pick, master and cover hear the same thing: a take folded or
resampled two ways would score on one signal and be mastered from another.
"""
from __future__ import annotations

from math import gcd

import numpy as np


def to_mono(audio: np.ndarray) -> np.ndarray:
    """(frames,) or (frames, channels) -> (frames,), the mean of the channels.

    The mean, not the sum: a mono take stays at its own level and a dual-mono fold
    gives back the original samples. Integer PCM is scaled to [-1, 1) first."""
    audio = np.asarray(audio)
    if audio.dtype.kind in "iu":
        audio = audio / float(np.iinfo(audio.dtype).max + 1)
    return audio.mean(axis=1) if audio.ndim == 2 else audio


def resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling along the first axis (32 kHz -> 44.1 kHz is 441/320) with a
    Kaiser-windowed (beta 8) anti-alias filter: its stopband sits under 16-bit noise,
    which scipy's default (beta 5) does not. Keeps the input's float dtype."""
    if sr_in == sr_out:
        return audio
    audio = np.asarray(audio)
    dtype = audio.dtype if audio.dtype.kind == "f" else np.float64
    g = gcd(int(sr_in), int(sr_out))
    from scipy import signal  # a second of start-up for every command: only when resampling

    out = signal.resample_poly(audio, int(sr_out) // g, int(sr_in) // g, axis=0, window=("kaiser", 8.0))
    return out.astype(dtype, copy=False)
