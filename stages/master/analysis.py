"""Album mode: one gain for the whole album, from every track's loudness. Tracks keep
their relative loudness; the album as a whole meets the target."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from albumgen.audio.io import read_audio

from . import dsp, loudness


def analyse(takes: dict[str, tuple[Path, dict]], cfg) -> dict:
    """takes: track id -> (its wav, sequence's analysis of it)."""
    tracks, blocks = {}, []
    for tid, (path, music) in takes.items():
        audio, sr = read_audio(path)
        audio, _ = dsp.prepare(audio, sr, cfg, music)
        lufs, b = loudness.measure(audio, sr)
        tracks[tid] = {"loudness": _num(lufs), "true_peak": _num(loudness.true_peak_db(audio))}
        blocks.append(b)
    album_in = loudness.pooled_loudness(blocks, [0.0] * len(blocks))
    gain = cfg.loudness - album_in if np.isfinite(album_in) else 0.0
    # The limiter will hold every track under the ceiling, so no peak can be above it.
    peaks = [min(t["true_peak"] + gain, cfg.true_peak) for t in tracks.values() if t["true_peak"] is not None]
    return {"tracks": tracks, "loudness": _num(album_in), "gain_db": round(gain, 4),
            "album_loudness": _num(loudness.pooled_loudness(blocks, [gain] * len(blocks))),
            "album_peak": round(max(peaks), 4) if peaks else None}


def _num(x: float) -> float | None:
    return round(float(x), 4) if np.isfinite(x) else None
