"""Where a take changes: a jump into unrelated material, and seams at render's window joins.

Both read one novelty measure: how much the timbre (MFCC-like: the cosine transform of the
band levels, without its level term) and the harmony (chroma) differ between the stretch
before a moment and the stretch after it. Each curve is scaled by the take's own typical
change, so a busy piece is judged against its own busyness. A section change moves one
of the two, or both a little; unrelated material moves both, far past anything else in
the take.
"""
from __future__ import annotations

import numpy as np
from scipy.fft import dct

from .analysis import HOP, N_FFT, RATE, SILENT_DB, Analysis

STEP = 4  # hops per block: 46 ms
N_MFCC = 13
JUMP_HALF = 3.0  # seconds each side: a jump is a change of material, not of chord
SEAM_HALF = 0.75  # a seam is a moment: only the time around the join
SEAM_NEAR = 0.1  # seconds either side of a join where its change may land


def blocks(a: Analysis) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(timbre, chroma, live) per 46 ms block."""
    n = a.bands_db.shape[0] // STEP
    bands = np.maximum(a.bands_db, a.bands_db.max() - 70.0)[: n * STEP].reshape(n, STEP, -1).mean(axis=1)
    timbre = dct(bands, type=2, norm="ortho", axis=1)[:, 1:N_MFCC]
    p = a.power[: n * STEP].reshape(n, STEP, -1).mean(axis=1)
    chroma = p @ _chroma_matrix(len(a.freqs))
    chroma /= chroma.sum(axis=1, keepdims=True) + 1e-20
    live = a.frame_db[: n * STEP].reshape(n, STEP).mean(axis=1) > SILENT_DB
    return timbre, chroma, live


_CHROMA: dict[int, np.ndarray] = {}


def _chroma_matrix(bins: int) -> np.ndarray:
    """Each FFT bin from 60 Hz to 5 kHz to its nearest pitch class."""
    if bins not in _CHROMA:
        f = np.fft.rfftfreq(N_FFT, 1 / RATE)[:bins]
        m = np.zeros((bins, 12), dtype=np.float32)
        use = (f >= 60.0) & (f <= 5000.0)
        pc = np.round(12 * np.log2(f[use] / 440.0)).astype(int) % 12
        m[np.flatnonzero(use), pc] = 1.0
        _CHROMA[bins] = m
    return _CHROMA[bins]


def novelty(feat: np.ndarray, half: int, cosine: bool) -> np.ndarray:
    """Distance between the mean of `half` blocks before each block and `half` after
    (NaN where either side runs off the take)."""
    n = len(feat)
    out = np.full(n, np.nan)
    if n < 2 * half + 1:
        return out
    c = np.concatenate([np.zeros((1, feat.shape[1])), np.cumsum(feat, axis=0)])
    t = np.arange(half, n - half)
    before = (c[t] - c[t - half]) / half
    after = (c[t + half] - c[t]) / half
    if cosine:
        num = (before * after).sum(axis=1)
        den = np.linalg.norm(before, axis=1) * np.linalg.norm(after, axis=1) + 1e-20
        d = 1.0 - num / den
    else:
        d = np.linalg.norm(before - after, axis=1)
    out[t] = d
    return out


def _scaled(nov: np.ndarray, floor: float) -> np.ndarray:
    """Novelty in units of the take's own spread of novelty above its median."""
    ok = np.isfinite(nov)
    if ok.sum() < 8:
        return np.full_like(nov, np.nan)
    med = np.median(nov[ok])
    scale = max(1.4826 * float(np.median(np.abs(nov[ok] - med))), floor)
    return (nov - med) / scale


def joint(timbre, chroma, half: int) -> np.ndarray:
    """Per block: the smaller of the timbre and the harmony novelty, each in the take's
    own units, so only a change of both counts."""
    zt = _scaled(novelty(timbre, half, cosine=False), floor=0.5)
    zc = _scaled(novelty(chroma, half, cosine=True), floor=0.01)
    return np.minimum(zt, zc)


def jump(a: Analysis, parts=None) -> dict[str, float]:
    """jump_z: the take's largest joint novelty over 3 s either side, in its own units;
    jump_at: where (seconds)."""
    timbre, chroma, live = parts or blocks(a)
    fr = a.frame_rate / STEP
    j = joint(timbre, chroma, int(JUMP_HALF * fr))
    j[~live] = np.nan
    if not np.isfinite(j).any():
        return {"jump_z": 0.0, "jump_at": 0.0}
    i = int(np.nanargmax(j))
    return {"jump_z": float(max(0.0, j[i])), "jump_at": _block_time(i, a)}


def seam(a: Analysis, joins: list[float] | None, parts=None) -> dict[str, float]:
    """seam_z: the largest change right at one of render's window joins, over 0.75 s either
    side, in units of the same change measured everywhere else in the take. 0 when the
    take has no joins (one window, or a file scored from outside a build)."""
    if not joins:
        return {"seam_z": 0.0}
    timbre, chroma, live = parts or blocks(a)
    fr = a.frame_rate / STEP
    half = int(SEAM_HALF * fr)
    zt = _scaled(novelty(timbre, half, cosine=False), floor=0.5)
    zc = _scaled(novelty(chroma, half, cosine=True), floor=0.01)
    both = np.nan_to_num(zt + zc, nan=-np.inf)
    near = int(SEAM_NEAR * fr) + 1
    worst = 0.0
    for t in joins:
        i = int(round(_block_at(t, a)))
        if half <= i < len(both) - half:
            worst = max(worst, float(both[max(0, i - near): i + near + 1].max()) / 2.0)
    return {"seam_z": worst}


def _block_time(i: int, a: Analysis) -> float:
    # Block i spans hops [i*STEP, (i+1)*STEP); hop h's frame is centred at h*HOP + N_FFT/2.
    return (i * STEP * HOP + N_FFT / 2) / RATE


def _block_at(seconds: float, a: Analysis) -> float:
    return (seconds * RATE - N_FFT / 2) / (STEP * HOP)
