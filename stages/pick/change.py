"""Where a take changes: a jump into unrelated material, and seams at render's window joins.

A jump is found by splitting the take in two at every moment and asking how much less
alike the two sides are than each side is to itself, in timbre (MFCC-like: the cosine
transform of the band levels, without its level term), in harmony (chroma) and in beat
(a tempogram: how the onsets repeat at beat lags over a few seconds). Music that moves
through sections keeps coming back to its sounds, its key and its tempo, so no split
separates it cleanly; a take that drifted into something else splits in two. Each side's
own variation is the yardstick, so a take that varies a lot must change more to count.
A jump into another piece of the same style keeps the sound and often most of the
harmony, but rarely the tempo: the beat is what gives it away.

A seam is a cut: at a join, notes that were sounding stop at once and others start in
the middle of their lives. Band levels that fall within a few tens of milliseconds are
that cut; music's own notes fade. The cut at each join is compared with the sharpest
falls everywhere else in the same take.
"""
from __future__ import annotations

import numpy as np
from scipy.fft import dct
from scipy.ndimage import maximum_filter1d, uniform_filter1d

from .analysis import HOP, N_FFT, RATE, Analysis, onset_envelope

STEP = 4  # hops per block: 46 ms
N_MFCC = 13
JUMP_BLOCK = 0.5  # seconds per block of the split search
JUMP_SIDE = 5.0  # seconds at least on each side of a split: an intro is not a jump
TEMPO_WINDOW = 3.0  # seconds of onsets per tempogram column: four beats at 80 bpm
BEAT_LAGS = (0.3, 1.2)  # seconds: beats from 200 down to 50 bpm
CUT_HOPS = 2  # levels compared this many hops (23 ms) before and after each moment
JOIN_NEAR = 3  # hops either side of a join where its cut may land (render rounds to frames)


def features_at(a: Analysis, block_hops: int) -> tuple[np.ndarray, np.ndarray]:
    """(timbre, chroma) per block of `block_hops` hops; chroma unit-length."""
    n = a.bands_db.shape[0] // block_hops
    bands = np.maximum(a.bands_db, a.bands_db.max() - 70.0)[: n * block_hops]
    bands = bands.reshape(n, block_hops, -1).mean(axis=1)
    timbre = dct(bands, type=2, norm="ortho", axis=1)[:, 1:N_MFCC]
    p = a.power[: n * block_hops].reshape(n, block_hops, -1).mean(axis=1)
    chroma = p @ _chroma_matrix(a.power.shape[1])
    chroma /= np.linalg.norm(chroma, axis=1, keepdims=True) + 1e-20
    return timbre, chroma


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


def split_contrast(dist: np.ndarray, side: int) -> np.ndarray:
    """For each split t (side <= t <= n - side): the mean distance across the split over
    the mean distance within each side (1 = the two sides are as alike as each is to
    itself). NaN where a side would be shorter than `side`."""
    n = len(dist)
    s = np.zeros((n + 1, n + 1))
    s[1:, 1:] = dist.cumsum(axis=0).cumsum(axis=1)
    out = np.full(n, np.nan)
    t = np.arange(side, n - side + 1)
    if len(t) == 0:
        return out
    cross = (s[t, n] - s[t, t]) / (t * (n - t))  # rows [0, t), columns [t, n)
    pairs_a, pairs_b = t * (t - 1), (n - t) * (n - t - 1)
    within = (s[t, t] + (s[n, n] - s[t, n] - s[n, t] + s[t, t])) / (pairs_a + pairs_b)
    out[t] = cross / np.maximum(within, 1e-12)
    return out


def tempogram(a: Analysis, block_hops: int, n: int) -> np.ndarray:
    """Per block: the onsets' autocorrelation (over the TEMPO_WINDOW around the block,
    normalised by its zero lag) at the beat lags. A steady beat gives every block the same
    column; another tempo moves its peaks, another groove changes their heights."""
    env = onset_envelope(a)
    env = env - uniform_filter1d(env, 43)  # the slow trend (~0.5 s) is no onset
    w = int(TEMPO_WINDOW * a.frame_rate)
    lo, hi = (int(round(s * a.frame_rate)) for s in BEAT_LAGS)
    if len(env) < w:
        return np.zeros((n, hi - lo))
    starts = np.clip(np.arange(n) * block_hops + block_hops // 2 - w // 2, 0, len(env) - w)
    seg = env[starts[:, None] + np.arange(w)[None, :]]
    seg = seg - seg.mean(axis=1, keepdims=True)
    r = np.fft.irfft(np.abs(np.fft.rfft(seg, 2 * w, axis=1)) ** 2, 2 * w, axis=1)[:, :hi]
    zero = r[:, :1]
    return np.where(zero > 0, r[:, lo:hi] / np.maximum(zero, 1e-20), 0.0)


def jump(a: Analysis) -> dict[str, float]:
    """jump: the largest contrast over all splits (1 = no split separates the take): the
    geometric mean of the timbre and the harmony contrast, or of those and the beat's
    (tempogram) contrast, whichever is larger. Timbre and harmony alone still catch a jump
    that keeps the tempo; the beat joins them so that a jump which keeps the sound (another
    piece of the same style) is caught by its tempo. The beat weighs a third: another
    piece's tempo (a beat contrast of about 2-7) trips over the same sound, while drums
    that stop or enter at the same tempo (1.1-2) trip only where the sound changes a lot
    too. jump_at: the split, in seconds."""
    block = max(1, int(round(JUMP_BLOCK * RATE / HOP)))
    side = int(round(JUMP_SIDE / JUMP_BLOCK))
    if a.bands_db.shape[0] // block < 2 * side + 1:  # too short to have two sides
        return {"jump": 1.0, "jump_at": 0.0}
    timbre, chroma = features_at(a, block)
    beat = tempogram(a, block, len(timbre))
    dt = np.linalg.norm(timbre[:, None, :] - timbre[None, :, :], axis=2)
    dc = 1.0 - np.clip(chroma @ chroma.T, -1.0, 1.0)
    db = np.linalg.norm(beat[:, None, :] - beat[None, :, :], axis=2)
    sound = split_contrast(dt, side) * split_contrast(dc, side)
    both = np.fmax(np.sqrt(sound), np.cbrt(sound * split_contrast(db, side)))
    if not np.isfinite(both).any():
        return {"jump": 1.0, "jump_at": 0.0}
    i = int(np.nanargmax(both))
    return {"jump": float(both[i]), "jump_at": i * block * HOP / RATE}


def cut_curve(a: Analysis) -> np.ndarray:
    """Per hop: the mean fall of the band levels from CUT_HOPS before to CUT_HOPS after."""
    x = np.maximum(a.bands_db, a.bands_db.max() - 60.0)
    k = CUT_HOPS
    fall = np.maximum(x[: -2 * k] - x[2 * k:], 0.0).mean(axis=1)
    return np.concatenate([np.zeros(k), fall, np.zeros(k)])


PARTIALS = (60.0, 5000.0)  # Hz: where the notes' partials are, each FFT bin on its own


def partial_cut_curve(a: Analysis) -> np.ndarray:
    """Per hop: the mean fall of each FFT bin from 60 Hz to 5 kHz from CUT_HOPS before to
    CUT_HOPS after. Bin by bin, not band by band: at a seam one note's partials vanish
    while the next note's appear beside them in the same band, which a band's level
    averages away; music's own notes fade out partial by partial."""
    lo, hi = np.searchsorted(a.freqs, PARTIALS)
    x = 10 * np.log10(a.power[:, lo:hi].astype(np.float64) + 1e-12)
    x = np.maximum(x, x.max() - 60.0)
    k = CUT_HOPS
    fall = np.maximum(x[: -2 * k] - x[2 * k:], 0.0).mean(axis=1)
    return np.concatenate([np.zeros(k), fall, np.zeros(k)])


def seam(a: Analysis, joins: list[float] | None, onsets: np.ndarray | None = None,
         beat_hops: float = 0.0) -> dict[str, float]:
    """seam: how far the sharpest change at any of render's window joins stands over the
    same change everywhere else in the take, as (join - median) / (99th percentile -
    median): above 1, the join changes more than 99% of the take does. Three changes are
    measured and the largest counts: the cut (seam_db: the mean dB the band levels fall
    within ~50 ms), the same cut partial by partial (seam_partials: FFT bins, where a
    pad's or a piano's held notes vanish under the next ones) and, when the take has a
    pulse (beat_hops > 0), the jump of the beat's
    phase across the join (seam_beat, in beats, 0-0.5): a take that resumes somewhere
    else lands off the beat. 0 when the take has no joins (one window, or a file scored
    from outside a build)."""
    none = {"seam": 0.0, "seam_db": 0.0, "seam_beat": 0.0, "seam_partials": 0.0}
    if not joins:
        return none
    cut = maximum_filter1d(cut_curve(a), 2 * JOIN_NEAR + 1)
    n = len(cut)
    at = [i for i in (int(round((t * RATE - N_FFT / 2) / HOP)) for t in joins) if 2 * CUT_HOPS <= i < n - 2 * CUT_HOPS]
    if not at:
        return none
    worst_cut, cut_db = _standout(cut, at, int(0.5 * a.frame_rate))
    worst_partials, partials_db = _standout(maximum_filter1d(partial_cut_curve(a), 2 * JOIN_NEAR + 1), at,
                                            int(0.5 * a.frame_rate))
    worst_beat, beat = 0.0, 0.0
    if onsets is not None and beat_hops > 0:
        phase_jump, span = beat_phase_jumps(onsets, beat_hops)
        inside = [i for i in at if span <= i < n - span]
        if inside:
            # A tenth of a beat at least: a played part drifts that much, a jump elsewhere more.
            worst_beat, beat = _standout(phase_jump, inside, span, floor=0.1)
    return {"seam": max(worst_cut, worst_partials, worst_beat), "seam_db": cut_db, "seam_beat": beat,
            "seam_partials": partials_db}


def _standout(curve: np.ndarray, at: list[int], guard: int, floor: float = 0.5) -> tuple[float, float]:
    """(how far the curve's largest value at `at` stands out, that value); the reference is
    the curve away from every join (`guard` hops either side)."""
    away = np.ones(len(curve), dtype=bool)
    for i in at:
        away[max(0, i - guard): i + guard] = False
    rest = curve[away]
    worst = float(max(curve[i] for i in at))
    if len(rest) < 4 * guard:
        return 0.0, worst
    med, p99 = float(np.median(rest)), float(np.percentile(rest, 99))
    return max(0.0, (worst - med) / max(p99 - med, floor)), worst


BEATS = 4  # beats on each side of a moment to read the beat's phase from


def beat_phase_jumps(onsets: np.ndarray, beat_hops: float) -> tuple[np.ndarray, int]:
    """Per hop: how far (in beats, 0-0.5) the phase of the onsets' beat-rate component over
    the BEATS beats after it differs from the phase over the BEATS beats before it; and
    that span in hops. A steady beat keeps its phase; a jump elsewhere shifts it."""
    env = np.maximum(onsets - uniform_filter1d(onsets, 43), 0.0)
    n = len(env)
    span = int(round(BEATS * beat_hops))
    out = np.zeros(n)
    if n <= 2 * span + 1:
        return out, span
    c = np.concatenate([[0], np.cumsum(env * np.exp(-2j * np.pi * np.arange(n) / beat_hops))])
    t = np.arange(span, n - span)
    before = np.angle(c[t] - c[t - span])
    after = np.angle(c[t + span] - c[t])
    d = (after - before) / (2 * np.pi)
    out[t] = np.abs((d + 0.5) % 1.0 - 0.5)
    return out, span
