"""Features for the ways generated music fails that generic signal checks miss:
a muffled take, dropouts, a stuck short loop and mains hum. Each measures its failure
directly and, like every feature, is blind to gain, sample rate and channels.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import median_filter, uniform_filter1d

from albumgen.audio.signal import resample

from .analysis import RATE, SILENT_DB, Analysis

HF_LO, MID = 4000.0, (250.0, 2000.0)
# Under this the high band is "none to speak of": a dark take's hiss or a dropout's click
# must not decide which of two dark takes is duller.
HF_FLOOR_DB = -50.0


def bandwidth(a: Analysis) -> dict[str, float]:
    """hf_db: the 4-11 kHz band's level over the 250 Hz-2 kHz band's, in the take's average
    spectrum (loud frames), floored at -50 dB. In the high band only what rises over its
    steady floor counts. Against the mid band rather than the total, so a take with a
    heavier bass is not called duller. It never judges a take alone: a bass solo is dark
    by design; combine compares it with the track's other takes (dull_db)."""
    loud = a.frame_db > SILENT_DB
    if loud.sum() < 4:
        return {"hf_db": HF_FLOOR_DB}
    p = a.power[loud]
    f = a.freqs
    mid = float(p[:, (f >= MID[0]) & (f < MID[1])].astype(np.float64).mean(axis=0).sum())
    high = p[:, f >= HF_LO].astype(np.float64).sum(axis=1)
    # Hiss raises the high band too, and must not make a noisy take look "fuller" than a
    # clean one: only what rises over the band's steady floor (its 20th percentile over
    # time) counts up there. Summed over the band, steady noise barely moves frame to frame.
    hf = float(np.maximum(high - np.percentile(high, 20), 0.0).mean())
    hf_db = 10 * np.log10((hf + 1e-20) / (mid + 1e-20)) if mid > 0 else HF_FLOOR_DB
    return {"hf_db": float(np.clip(hf_db, HF_FLOOR_DB, 20.0))}


def dropouts(a: Analysis) -> dict[str, float]:
    """Count of gaps of 0.08-1.2 s mid-take where the sound falls more than 35 dB under its
    local level (the median of the surrounding 2.5 s) within ~35 ms, and comes back. A note's
    release or a band's stop rings out through reverb; a dropout falls off a cliff."""
    db = a.frame_db
    fr = a.frame_rate
    n = len(db)
    if n < int(2 * fr):
        return {"dropouts": 0.0}
    ref = median_filter(db, size=int(2.5 * fr), mode="nearest")
    # 35 dB, not the 40 a listener calls a dropout: the 2.5 s median sits a little over the
    # level just before a gap, and a 42 dB drop must not slip through on that.
    gap = (db < ref - 35.0) & (ref > SILENT_DB)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], gap.astype(np.int8), [0]])))
    count = 0
    margin, pre, back = int(0.3 * fr), 3, int(0.3 * fr)
    for s, e in zip(edges[::2], edges[1::2]):
        if not (0.08 * fr <= e - s <= 1.2 * fr) or s < margin or e > n - margin:
            continue
        sudden = db[s - pre: s].max() >= ref[s] - 15.0
        returns = db[e: e + back].max() >= ref[e] - 20.0
        count += bool(sudden and returns)
    return {"dropouts": float(count)}


def stuck(a: Analysis) -> dict[str, float]:
    """stuck_s: the longest stretch (seconds) over which the take repeats one 0.1-0.5 s
    segment nearly exactly: at some short lag its band levels differ by under 1.5 dB on
    average over 1 s, and by under a third of what they differ at the other short lags.
    The contrast keeps a held chord or a drone out (it is alike at every lag); the
    exactness keeps played music out (a drum pattern repeats, the parts over it do not).
    The long-lag `loop_s` feature (loops.py) is for whole bars and phrases looping."""
    fr = a.frame_rate
    x = np.maximum(a.bands_db, a.bands_db.max() - 60.0)
    x = uniform_filter1d(x, 3, axis=0)  # a hop's misalignment of a non-integer period is no change
    n = len(x)
    lags = np.arange(int(0.1 * fr), int(0.5 * fr) + 1)
    win = int(1.0 * fr)
    if n < lags[-1] + 2 * win:
        return {"stuck_s": 0.0}
    m = n - lags[-1]
    d = np.empty((len(lags), m), dtype=np.float32)
    for i, lag in enumerate(lags):
        d[i] = uniform_filter1d(np.abs(x[lag: lag + m] - x[:m]).mean(axis=1), win)
    best = d.min(axis=0)
    typical = np.median(d, axis=0)
    hit = (best < 1.5) & (best < typical / 3.0) & (typical > 1.0)
    start, end = _longest_span(hit)
    # Where: stuck_at..stuck_end (seconds) is what a repaint makes again. A window's
    # difference is spread over `win` frames either side of the repeat, and the repeat
    # reaches `lag` frames past the last frame compared.
    out = {"stuck_s": (end - start) / fr}
    if end > start:
        out.update(stuck_at=round(max(0, start - win // 2) / fr, 3),
                   stuck_end=round(min(n, end + win // 2 + int(lags[-1])) / fr, 3))
    return out


def _longest_span(mask: np.ndarray) -> tuple[int, int]:
    """[start, end) of the longest run of True, (0, 0) when there is none."""
    if not mask.any():
        return 0, 0
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    i = int(np.argmax(edges[1::2] - edges[::2]))
    return int(edges[2 * i]), int(edges[2 * i + 1])


HUM_DECIMATE = 16  # RATE / 16 = 1378 Hz: up to ~600 Hz, where mains harmonics are
HUM_FRAME = 0.5  # seconds: short enough to fall between kicks and bass notes
PRESENT = 0.35  # share of frames that must show the peak on their own (kicks hide it in the rest)


def hum(a: Analysis) -> dict[str, float]:
    """hum_db: how far 50 or 60 Hz and its harmonics stand over their neighbourhood (12-30 Hz
    away) in the take's floor spectrum, the level each frequency keeps in 90% of 0.5 s
    frames; the fundamental's prominence, or the second most prominent of the first four
    harmonics if higher, the better of the two mains. Hum never stops, so it is in the floor; music's low notes and kicks come
    and go and sink out of it, and a drum machine's line spectrum only exists over long
    windows. A harmonic counts only as a narrow peak centred on it (within 0.75 Hz) that
    most frames also show on their own. hum_hz: the mains frequency that won (0 when
    nothing stands out)."""
    x = resample(a.mono, HUM_DECIMATE, 1)  # the front end's resampler, rates as a ratio
    rate = RATE / HUM_DECIMATE
    seg = int(HUM_FRAME * rate)
    hop = seg // 4
    n = (len(x) - seg) // hop + 1
    if n < 8:
        return {"hum_db": 0.0, "hum_hz": 0.0}
    idx = np.arange(n)[:, None] * hop + np.arange(seg)[None, :]
    nfft = 8 * seg
    chunks = x[idx]
    energy = 10 * np.log10((chunks ** 2).mean(axis=1) + 1e-30)
    chunks = chunks[energy > np.median(energy) - 50.0]  # digital silence has no floor to judge
    if len(chunks) < 8:
        return {"hum_db": 0.0, "hum_hz": 0.0}
    frames = np.fft.rfft(chunks * np.hanning(seg), nfft, axis=1)
    db = 10 * np.log10(np.abs(frames) ** 2 + 1e-20)
    floor = np.percentile(db, 10, axis=0)
    df = rate / nfft
    best, best_hz = 0.0, 0.0
    for mains in (50.0, 60.0):
        prom = []
        for k in (1, 2, 3, 4):
            i = int(round(mains * k / df))
            near = np.arange(i - int(3 / df), i + int(3 / df) + 1)
            j = near[np.argmax(floor[near])]
            ring = np.r_[i - int(30 / df): i - int(12 / df), i + int(12 / df): i + int(30 / df)]
            # Only a narrow peak centred on the mains frequency: a note 1 Hz off (G1 is 49 Hz)
            # is music, and so is a kick's tail, a bump several Hz wide (a line falls 6 dB
            # within 3 Hz either side in a 0.5 s Hann window).
            w = int(3 / df)
            narrow = min(floor[j] - floor[j - w], floor[j] - floor[j + w]) >= 6.0
            # And a peak there in most frames on their own: two bass notes 10 Hz apart that
            # take turns leave a bump between them in the floor, but no frame has a peak there.
            local = db[:, i - int(0.75 / df): i + int(0.75 / df) + 1].max(axis=1)
            top = db[:, i - w: i + w + 1].max(axis=1)
            present = ((local >= top - 0.5) & (local - np.median(db[:, ring], axis=1) >= 6.0)).mean() >= PRESENT
            ok = abs(j - i) * df <= 0.75 and narrow and present
            prom.append(floor[j] - np.median(floor[ring]) if ok else 0.0)
        # The fundamental alone, or else the second most prominent harmonic: one persistent
        # partial of a held chord near 240 Hz is not hum; mains hum rarely has one line.
        score = float(max(prom[0], sorted(prom)[-2]))
        if score > best:
            best, best_hz = score, mains
    return {"hum_db": best, "hum_hz": best_hz}
