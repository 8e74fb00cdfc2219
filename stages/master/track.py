"""One track from prepared audio to an encoded file at the loudness target, under the
true-peak ceiling as a decoder will see it."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from albumgen.audio.signal import resample

from . import encode, loudness
from .limiter import limit

log = logging.getLogger("albumgen")

# The limiter aims this far under the ceiling: LAME's low-pass and quantisation add
# inter-sample overs of a few tenths of a dB on limited material (0.3 dB was often not
# enough, and each miss costs an encode). FLAC is lossless.
ENCODER_MARGIN = {"mp3": 0.5, "flac": 0.1}
# What the decoded file must show at most, below the ceiling: other meters (ffmpeg's
# ebur128 interpolates to 192 kHz differently) read a few hundredths higher than ours.
METER_GUARD = 0.1
LOUDNESS_TOLERANCE = 0.05  # LU: close enough that no meter disagrees about the target
MAX_PASSES = 8
# Past this much gain over plain normalisation the limiter is squashing, not limiting: a
# track that peaky stays under the target (logged) rather than being flattened.
MAX_EXTRA_GAIN = 12.0


def level(audio: np.ndarray, sr: int, gain_db: float, ceiling_db: float, target: float | None) -> tuple[np.ndarray, dict]:
    """Apply gain, then limit. With a target (track mode) the gain is raised until the
    limited audio measures the target, since limiting takes some loudness back: secant
    steps, because under heavy limiting one more dB of gain gives well under one LU."""
    tried: list[tuple[float, float]] = []
    first = gain_db
    envelope = loudness.peak_envelope(audio)
    while True:
        out, reduction = limit(audio, sr, ceiling_db, gain_db, envelope)
        if target is None:
            break
        now = loudness.integrated_loudness(out, sr)
        tried.append((gain_db, now))
        if not np.isfinite(now) or abs(now - target) < LOUDNESS_TOLERANCE or len(tried) >= MAX_PASSES:
            break
        slope = 1.0
        if len(tried) > 1:
            (g0, l0), (g1, l1) = tried[-2], tried[-1]
            slope = (l1 - l0) / (g1 - g0) if g1 != g0 else 1.0
        step = float(np.clip((target - now) / float(np.clip(slope, 0.05, 1.0)), -6.0, 6.0))
        if gain_db >= first + MAX_EXTRA_GAIN and step > 0:
            break
        gain_db = min(gain_db + step, first + MAX_EXTRA_GAIN)
    return out, {"gain_db": gain_db, "limiter_db": reduction, "passes": max(1, len(tried))}


def master(audio: np.ndarray, sr_in: int, cfg, gain_db: float, album_mode: bool, path: Path,
           name: str | None = None) -> dict:
    """Resample, level, encode to `path`; decode it back and, if the encoder pushed a peak
    over, limit a little deeper and encode again. Returns the measurements of the file.
    name: what warnings call the file (path is usually a temporary beside it)."""
    name = name or Path(path).name
    sr = cfg.sample_rate
    audio = resample(audio, sr_in, sr)
    target = None if album_mode else cfg.loudness
    margin = ENCODER_MARGIN[cfg.format]
    for attempt in range(1, 5):
        out, info = level(audio, sr, gain_db, cfg.true_peak - margin, target)
        encode.encode(path, out, sr, cfg.format, cfg.bitrate)
        decoded, _ = encode.decode(path)
        peak = loudness.true_peak_db(decoded)
        excess = peak - (cfg.true_peak - METER_GUARD)
        if excess <= 0:
            break
        if attempt == 4:
            log.warning("master: %s: true peak %.2f dBTP is over the ceiling after %d tries", name, peak, attempt)
            break
        margin += excess + 0.05
    lufs = loudness.integrated_loudness(decoded, sr)
    if target is not None and np.isfinite(lufs) and lufs < target - 0.5:
        log.warning("master: %s: %.1f LUFS, under the %.1f target: more would need over %.0f dB of limiting",
                    name, lufs, target, MAX_EXTRA_GAIN)
    return {"loudness": lufs if np.isfinite(lufs) else None, "true_peak": peak if np.isfinite(peak) else None,
            "gain_db": info["gain_db"], "limiter_db": info["limiter_db"], "frames": len(out), "decoded_frames": len(decoded),
            "duration": len(out) / sr, "encodes": attempt}
