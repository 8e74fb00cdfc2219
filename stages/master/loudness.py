"""Album loudness pooled from tracks' blocks, and true peak (4x oversampled, annex 2).

Integrated loudness itself is the audio front end's (albumgen.audio.loudness), the one
measure pick and master share."""
from __future__ import annotations

import numpy as np

from albumgen.audio.loudness import integrated_loudness, measure  # noqa: F401  (master's names for them)
from albumgen.audio.signal import resample

OVERSAMPLE = 4  # BS.1770-4 annex 2: 4x is enough below 48 kHz to catch inter-sample peaks
_CHUNK = 1 << 18  # frames per oversampling chunk (6 s at 44.1 kHz)
_OVERLAP = 256  # frames; the 4x polyphase filter reaches 10 input frames either side
_ABS_GATE = -70.0
_REL_GATE = -10.0


def pooled_loudness(blocks: list[np.ndarray], gains_db: list[float]) -> float:
    """Integrated loudness of tracks played one after the other, each with its gain: the
    same two-stage gating as BS.1770, over the union of the tracks' blocks."""
    parts = [b + g for b, g in zip(blocks, gains_db) if b.size]
    if not parts:
        return float("-inf")
    lk = np.concatenate(parts)
    lk = lk[lk > _ABS_GATE]
    if not lk.size:
        return float("-inf")
    power = 10 ** ((lk + 0.691) / 10)
    rel = -0.691 + 10 * np.log10(power.mean()) + _REL_GATE
    gated = power[lk > rel]
    return float(-0.691 + 10 * np.log10(gated.mean()))


def peak_envelope(audio: np.ndarray) -> np.ndarray:
    """Per-sample true peak: the largest |value| of the 4x oversampled signal in the span
    from each sample to the next, over all channels. Shape (frames,).

    Works in chunks (overlapping by more than the interpolation filter reaches) so a long
    track never holds its whole 4x copy in memory."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[:, None]
    n = len(audio)
    out = np.empty(n, dtype=np.float32)
    for start in range(0, n, _CHUNK):
        lo, hi = max(0, start - _OVERLAP), min(n, start + _CHUNK + _OVERLAP)
        up = resample(audio[lo:hi], 1, OVERSAMPLE)
        env = np.abs(up).reshape(hi - lo, OVERSAMPLE * audio.shape[1]).max(axis=1)
        end = min(n, start + _CHUNK)
        out[start:end] = env[start - lo:end - lo]
    return out


def true_peak_db(audio: np.ndarray) -> float:
    if len(audio) == 0:
        return float("-inf")
    return float(20 * np.log10(peak_envelope(audio).max() + 1e-12))
