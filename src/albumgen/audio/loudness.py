"""Integrated loudness (ITU-R BS.1770 through pyloudnorm), the one measure every stage uses.

Defined on every input, so that pick and master agree on the same audio:
- silence, or audio whose every block is under the -70 LUFS absolute gate: -inf;
- audio shorter than one 400 ms gating block: measured as a single block of what there is
  (the same K-weighted mean square, the same absolute gate), rather than refused;
- anything else: BS.1770-4 exactly as pyloudnorm computes it.
"""
from __future__ import annotations

import numpy as np

BLOCK = 0.4  # s: BS.1770's gating block
_MIN_FRAMES = 16  # below this the K-weighting filters have not settled: call it unmeasurable


def measure(audio: np.ndarray, sr: int) -> tuple[float, np.ndarray]:
    """Integrated loudness in LUFS and the loudness of every gating block (so that tracks
    can later be pooled into one album figure)."""
    audio = np.asarray(audio, dtype=np.float64)
    n = len(audio)
    if n < _MIN_FRAMES or not np.any(audio):
        return float("-inf"), np.zeros(0)
    block = min(BLOCK, n / sr)
    import pyloudnorm  # it imports scipy.signal: a second of start-up for every command

    meter = pyloudnorm.Meter(sr, block_size=block)
    with np.errstate(divide="ignore"):
        lufs = float(meter.integrated_loudness(audio))
    blocks = np.asarray(meter.blockwise_loudness, dtype=np.float64)
    return (lufs if np.isfinite(lufs) else float("-inf")), blocks


def integrated_loudness(audio: np.ndarray, sr: int) -> float:
    """(frames,) or (frames, channels); see the module's note for short and silent audio."""
    return measure(audio, sr)[0]


def k_weight(audio: np.ndarray, sr: int) -> np.ndarray:
    """BS.1770's K-weighting (pyloudnorm's two biquads), every channel in one sosfilt pass:
    for loudness over time (the review page's curves) measured as the meter measures."""
    from pyloudnorm.iirfilter import IIRfilter
    from scipy.signal import sosfilt

    shelf = IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, sr, "high_shelf")
    high_pass = IIRfilter(0.0, 0.5, 38.0, sr, "high_pass")
    sos = np.array([np.concatenate([f.b, f.a]) / f.a[0] for f in (shelf, high_pass)])
    return sosfilt(sos, audio, axis=0)
