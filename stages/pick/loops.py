"""Where a take repeats itself exactly: the sign of a generation stuck in a cycle.

Music repeats by nature: a vamp plays the same bar for a whole take, a drum pattern comes
back every bar. But a played (or generated) repeat is never the same twice: each hit
lands a little early or late, louder or softer, each note starts afresh, the parts over
the pattern move. A model stuck in a cycle repeats its last second or bar *exactly*:
the spectrum one period later is the spectrum now, to a fraction of a dB, frame by frame,
for as long as it stays stuck. So the loop check does not ask how alike a take is to
itself at some lag (a vamp is very alike), but for how long, without a break, it is a
copy of itself.

The search is coarse, then fine. Band levels in 46 ms blocks give, for every lag from
0.75 s to half the take, the longest stretch where the take matches itself a lag later;
the best few lags are refined to the sample by cross-correlating the waveform (its
highs, which pin the lag down) over that stretch, and checked on the full spectrum at
that exact lag. A drone or a held chord is alike at every lag; it must also differ from
itself at the other lags (the drone check speaks for a take that never moves).
"""
from __future__ import annotations

import numpy as np
from scipy import signal
from scipy.ndimage import uniform_filter1d

from .analysis import HOP, N_FFT, RATE, SILENT_DB, Analysis

STEP = 4  # hops per block of the coarse search: 46 ms
MIN_LAG = 0.75  # seconds: shorter cycles are the stuck check's (0.1-0.5 s)
EXACT_DB = 1.0  # mean dB between a spectrum and its copy one period later: a copy, not a repeat
COARSE_DB = (1.0, 2.5)  # the coarse search's bars for a match (block edges fall off the period)
CONTRAST_DB = 1.5  # the take differs from itself by at least this at other lags, over the stretch
CANDIDATES = 2  # lags checked in full per coarse bar
# Whole fractions of the best period tried: the coarse search prefers the shortest of the
# tied multiples of a cycle, so only a block's rounding makes it find 2x or 3x. Not every
# fraction down to MIN_LAG: a song's chorus 60 s later would try 80, each a full pass over
# the take (a three-minute song took a minute to analyse).
MAX_FRACTION = 8
SMOOTH = 0.5  # seconds the frame distances are averaged over
HIGH_HZ = 8000.0


def loop(a: Analysis) -> dict[str, float]:
    """loop_s: the longest stretch, in seconds, over which the take is an exact copy of itself
    one period (0.75 s or more) earlier: the spectrum within EXACT_DB on average over
    SMOOTH, while at other lags it differs by CONTRAST_DB or more. loop_period: that
    period, in seconds (0 when there is none)."""
    blocks = _blocks(a)
    n = len(blocks)
    fr = a.frame_rate / STEP
    lo, hi = int(round(MIN_LAG * fr)), n // 2
    if hi <= lo + 2:
        return {"loop_s": 0.0, "loop_period": 0.0}
    win = max(1, int(round(SMOOTH * fr)))
    dist = [uniform_filter1d(np.abs(blocks[lag:] - blocks[:-lag]).mean(axis=1), win) for lag in range(lo, hi)]
    live = _live(a)
    spectrum = _Spectrum(a)
    best, period, where = 0, 0, (0, n)
    for lag in _candidates(dist, lo, n):
        stretch = _stretch(dist[lag - lo])
        typical = np.median([d[stretch[0]: stretch[1]].mean() for d in dist if len(d) >= stretch[1]])
        if typical < CONTRAST_DB:
            continue
        exact_lag = _refine(a.mono, lag * STEP * HOP, STEP * HOP, stretch)
        run = _exact_run(a, spectrum, exact_lag, live)
        if run > best:
            best, period, where = run, exact_lag, stretch
    # A copy every period is a copy every two periods too, and a period that falls between
    # two blocks can lose the coarse search to its multiples: try the whole fractions.
    k = 2
    while period and period / k >= MIN_LAG * RATE and k <= MAX_FRACTION:
        exact_lag = _refine(a.mono, int(round(period / k)), STEP * HOP, where)
        run = _exact_run(a, spectrum, exact_lag, live)
        if run > best:
            best, period = run, exact_lag
            k = 2
        else:
            k += 1
    return {"loop_s": best * HOP / RATE, "loop_period": period / RATE}


def _blocks(a: Analysis) -> np.ndarray:
    n = a.bands_db.shape[0] // STEP
    x = a.bands_db[: n * STEP].reshape(n, STEP, -1).mean(axis=1)
    return np.maximum(x, x.max() - 60.0)


def _live(a: Analysis) -> np.ndarray:
    # Digital silence copies itself exactly too: only sounding frames count.
    return uniform_filter1d(a.frame_db, 4) > SILENT_DB


def _candidates(dist: list[np.ndarray], lo: int, n: int) -> list[int]:
    """The lags (in blocks) with the longest coarse match, the best few at each bar."""
    out: list[int] = []
    for bar in COARSE_DB:
        runs = np.array([_longest(d < bar) for d in dist])
        got = 0
        for i in np.argsort(-runs, kind="stable"):
            if runs[i] == 0 or got == CANDIDATES:
                break
            if all(abs(lo + i - o) > 1 for o in out):
                out.append(lo + int(i))
                got += 1
    return out


def _stretch(d: np.ndarray) -> tuple[int, int]:
    """The blocks of the longest coarse match at a lag (the tightest bar that finds one)."""
    for bar in COARSE_DB:
        mask = d < bar
        if mask.any():
            return _longest_span(mask)
    return 0, len(d)


def _refine(mono: np.ndarray, coarse: int, width: int, stretch: tuple[int, int]) -> int:
    """The lag in samples within `width` of `coarse` that best aligns the waveform with
    itself over the stretch; on its second difference, so that a bass line's broad
    correlation peak does not decide it."""
    e = np.diff(mono.astype(np.float64), 2, prepend=[0.0, 0.0])
    n = len(e)
    s = stretch[0] * STEP * HOP
    t = min(n - coarse - width, stretch[1] * STEP * HOP)
    if t - s < 4 * width:  # too short to align on: the whole overlap
        s, t = 0, n - coarse - width
    if t <= s:
        return coarse
    start = max(0, s + coarse - width)
    r = signal.fftconvolve(e[start: t + coarse + width], e[s:t][::-1], mode="valid")
    return start - s + int(np.argmax(r))


class _Spectrum:
    """The take's spectrum in dB, 60 Hz-8 kHz, floored 60 dB under its peak: computed once
    per take, not once per lag tried."""

    def __init__(self, a: Analysis):
        self.mono = a.mono
        self.lo, self.hi = 3, int(np.searchsorted(a.freqs, HIGH_HZ))
        mine = 10 * np.log10(a.power[:, self.lo:self.hi].astype(np.float64) + 1e-12)
        self.floor = mine.max() - 60.0
        self.mine = np.maximum(mine, self.floor)

    def later(self, rem: int) -> np.ndarray:
        """The same from an STFT started `rem` samples in (not kept: each lag has its own,
        and a song's would take tens of MB apiece)."""
        _, _, spec = signal.stft(self.mono[rem:].astype(np.float32), fs=RATE, window="hann", nperseg=N_FFT,
                                 noverlap=N_FFT - HOP, boundary=None, padded=False)
        power = (spec.real ** 2 + spec.imag ** 2).T[:, self.lo:self.hi].astype(np.float64)
        return np.maximum(10 * np.log10(power + 1e-12), self.floor)


def _exact_run(a: Analysis, spectrum: _Spectrum, lag: int, live: np.ndarray) -> int:
    """The longest run of frames (hops) whose spectrum, 60 Hz-8 kHz, is within EXACT_DB of
    the spectrum `lag` samples later, where both sound. The later frames are taken from
    an STFT started `lag % HOP` samples in, so the two line up to the sample."""
    q, rem = divmod(lag, HOP)
    mine, later = spectrum.mine, spectrum.later(rem)
    m = min(len(mine), len(later) - q)
    if m <= 0:
        return 0
    b, o = mine[:m], later[q: q + m]
    top = np.maximum(b, o)
    heard = top > top.max(axis=1, keepdims=True) - 40.0  # bins that carry the frame's sound
    d = (np.abs(b - o) * heard).sum(axis=1) / np.maximum(heard.sum(axis=1), 1)
    d = uniform_filter1d(d, max(1, int(round(SMOOTH * a.frame_rate))))
    both = live[:m] & live[q: q + m]
    return _longest((d < EXACT_DB) & both)


def _longest_span(mask: np.ndarray) -> tuple[int, int]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    i = int(np.argmax(edges[1::2] - edges[::2]))
    return int(edges[2 * i]), int(edges[2 * i + 1])


def _longest(mask: np.ndarray) -> int:
    if not mask.any():
        return 0
    s, e = _longest_span(mask)
    return e - s
