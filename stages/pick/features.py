"""Weight-free features of one take, each a plain float so it can be recorded, compared
and z-scored. Every one is measured so that gain, sample rate, channel count and sample
format do not move it: levels on the loudness-normalised copy, ratios elsewhere.
"""
from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d, uniform_filter1d

from .analysis import SILENT_DB, Analysis, analyse, onset_envelope
from .change import seam
from .checks import CHECKS, HISS_NONE

FLOOR_DB = -45.0  # floors below this are all "clean": 16-bit audio 26 dB down already sits at ~-53


def features(audio: np.ndarray, sr: int, joins: list[float] | None = None) -> dict[str, float]:
    """Every always-on feature of a take, rounded so records diff cleanly: what each declared
    check's extractor measures (checks.py), once per extractor. `joins`: seconds where
    render's continuation windows meet (from the take record), where seams are sought."""
    a = analyse(np.asarray(audio), sr, joins)
    out = {"seconds": a.seconds, "loudness": a.loudness if np.isfinite(a.loudness) else -120.0}
    for name in dict.fromkeys(c.extract for c in CHECKS if c.extract):
        out.update(extractor(name)(a))
    return {k: round(float(v), 5) for k, v in sorted(out.items())}


def extractor(name: str) -> Callable[[Analysis], dict[str, float]]:
    """A check's extractor from its declared "module:function" in this package."""
    module, function = name.split(":")
    return getattr(import_module(f"{__package__}.{module}"), function)


def clipping_of(a: Analysis) -> dict[str, float]:
    return {"clipping": clipping(a.source, a.source_rate)}


def end_decay_of(a: Analysis) -> dict[str, float]:
    return {"end_decay": end_decay(a)}


def rhythm_of(a: Analysis) -> dict[str, float]:
    if "rhythm" not in a.memo:  # the seam check reads the beat too
        a.memo["rhythm"] = rhythm(a)
    return a.memo["rhythm"]


def seam_of(a: Analysis) -> dict[str, float]:
    r = rhythm_of(a)
    # The beat's phase only means something where there is a clear pulse.
    beat_hops = 60.0 * a.frame_rate / r["tempo"] if r["tempo"] > 0 and r["pulse_clarity"] >= 0.3 else 0.0
    return seam(a, a.joins, onset_envelope(a), beat_hops)


def _loud_frames(a: Analysis) -> np.ndarray:
    return a.frame_db > SILENT_DB


CLIP_WINDOW = 0.05  # seconds: distortion is heard against the music around it, not the take
CLIP_AUDIBLE_DB = -20.0  # clipped-off energy within this of a window's own energy is heard


def clipping(audio: np.ndarray, sr: int) -> float:
    """Share of ~50 ms windows where clipping is audible: the energy that flat tops cut off
    stands within 20 dB of the window's music. A flat top is a run of two or more
    consecutive samples at the take's own peak (within 0.1%, so a clipped take turned down
    is still clipped; on the samples as given, as resampling would round the tops off). What
    a run cut off is estimated from the waveform's slope just before and after it: a
    parabola entering and leaving at that slope over the run's length (height slope x
    length / 4), so a loud master's short tops, where a limiter and clipper shave a
    fraction of a dB, weigh next to nothing, and a take driven into the ceiling, whose
    tops are long and steep-sided, weighs as much as its music. The ratio is blind to
    gain and sample rate (slope and length scale against each other)."""
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    n = len(x)
    w = max(1, int(CLIP_WINDOW * sr))
    nw = n // w
    if nw == 0:
        return 0.0
    audible = np.zeros(nw, dtype=bool)
    for v in x.T:
        v = np.abs(v)
        peak = float(v.max())
        if peak <= 0:
            continue
        at = np.flatnonzero(v >= 0.999 * peak)  # few, in any take: runs are found from these alone
        if len(at) < 2:
            continue
        breaks = np.flatnonzero(np.diff(at) > 1)
        s, e = at[np.r_[0, breaks + 1]], at[np.r_[breaks, len(at) - 1]] + 1
        keep = (e - s >= 2) & (s >= 2) & (e + 1 < n)
        s, e = s[keep], e[keep]
        if not len(s):
            continue
        v = v / peak
        slope = (np.maximum(v[s - 1] - v[s - 2], 0.0) + np.maximum(v[e] - v[e + 1], 0.0)) / 2
        cut = slope ** 2 * (e - s).astype(np.float64) ** 3 / 30.0  # the parabola's energy over the run
        where = np.minimum((s + e) // 2 // w, nw - 1)
        lost = np.bincount(where, weights=cut, minlength=nw)
        windows = np.unique(where)
        energy = (v[(windows[:, None] * w + np.arange(w)[None, :])] ** 2).sum(axis=1)
        audible[windows] |= lost[windows] > energy * 10 ** (CLIP_AUDIBLE_DB / 10)
    return float(audible.mean())


HISS_WINDOW = 1.0  # seconds: hiss is in every one of them, a ride's or a crash's wash is not


def noise(a: Analysis) -> dict[str, float]:
    """flatness_db: median-to-mean power ratio across bins, per frame (a robust spectral
    flatness: ~-1.6 dB for white noise, far lower for tones). tonal_share: share of
    energy in bins that are local peaks 10 dB over their neighbourhood. Noise is flat
    with no peaks; music has peaks over a low floor; hiss raises the floor under them.
    hiss_db: the floor (a frame's median bin) that the take keeps through every second,
    against its mean bin power: a ratio, so a loud master is judged as a quiet one, and
    in its quietest moments, so cymbals, which ring and decay, do not count as hiss."""
    p = a.power[:, 1: np.searchsorted(a.freqs, 10000.0)]
    loud = _loud_frames(a)
    if not loud.any():
        return {"flatness_db": FLOOR_DB, "flatness": 0.0, "tonal_share": 0.0, "hiss_db": HISS_NONE}
    p = p[loud] + 1e-20
    mean = p.mean(axis=1)
    floor = np.median(p, axis=1)
    flat_db = 10 * np.log10(floor / mean)
    logp = np.log(p)
    geo = np.exp(logp.mean(axis=1)) / mean
    local = uniform_filter1d(logp, 15, axis=1)
    peak = (logp > local + np.log(10.0)) & (p >= maximum_filter1d(p, 3, axis=1))
    tonal = (p * peak).sum(axis=1) / p.sum(axis=1)
    # Hiss never stops; cymbals and a loud master's wash come and go. The floor a take keeps
    # in every second (the lowest frame floor of each second, the median over the take)
    # against its mean power is hiss, whatever the take's level.
    kept = np.median(minimum_filter1d(floor, max(1, int(HISS_WINDOW * a.frame_rate))))
    hiss_db = 10 * np.log10(kept / float(np.mean(mean)))
    return {"flatness_db": max(FLOOR_DB, float(np.median(flat_db))), "flatness": float(np.median(geo)),
            "tonal_share": float(np.mean(tonal)), "hiss_db": max(HISS_NONE, float(hiss_db))}


def silence(a: Analysis) -> dict[str, float]:
    """Share of ~50 ms windows below SILENT_DB, and the silent tail as a share of the take."""
    db = uniform_filter1d(a.frame_db, 4)  # 4 hops ~ 46 ms: a gap between notes is not silence
    silent = db < SILENT_DB
    if not silent.any():
        return {"silence": 0.0, "trailing_silence": 0.0}
    sounding = np.flatnonzero(~silent)
    tail = len(silent) - 1 - sounding[-1] if len(sounding) else len(silent)
    return {"silence": float(silent.mean()), "trailing_silence": tail / len(silent)}


HARSH_LO = 3500.0  # Hz: where a screech lives, up to the analysis rate's Nyquist (11 kHz)
HARSH_NARROW_DB = 20.0  # a screech's few bins stand this far over the rest of the band's rise
HARSH_LEVEL_DB = -6.0  # and are this loud against the take's typical full-band frame


def harsh(a: Analysis) -> dict[str, float]:
    """Share of frames inside a sustained (>= 140 ms) high-frequency screech, judged against
    the take's own spectral balance: each 3.5-11 kHz bin against its own median level over
    the take (so a mix that is bright all along is its own reference), smoothed over 140
    ms. A screech lifts a few bins far over that balance (their rise stands >= 20 dB over
    the band's median rise) and is loud (those bins within 6 dB of the take's typical
    full-band frame). A cymbal or a hi-hat lifts the whole band at once, however loud:
    broad, not narrow, so a bright master is not harsh for its crashes and rides."""
    lo = np.searchsorted(a.freqs, HARSH_LO)
    loud = _loud_frames(a)
    hf = 10 * np.log10(a.power[:, lo:].sum(axis=1) + 1e-12)
    if loud.sum() < 12:
        return {"harsh": 0.0, "hf_excess_db": 0.0}
    p = a.power[:, lo:] + np.float32(1e-12)
    p_db = 10 * np.log10(p)
    rise = uniform_filter1d(p_db - np.median(p_db[loud], axis=0), 12, axis=0)  # 12 hops ~ 140 ms
    bins = rise.shape[1]
    top = np.partition(rise, bins - 3, axis=1)[:, -3:].mean(axis=1)
    narrow = top - np.partition(rise, bins // 2, axis=1)[:, bins // 2]
    full = 10 * np.log10(a.power.sum(axis=1) + 1e-12)
    level = uniform_filter1d(10 * np.log10(np.partition(p, bins - 3, axis=1)[:, -3:].sum(axis=1)), 12)
    burst = (narrow >= HARSH_NARROW_DB) & (level >= np.median(full[loud]) + HARSH_LEVEL_DB) & loud
    sustained = minimum_filter1d(burst.astype(np.uint8), 12) > 0
    sustained = maximum_filter1d(sustained.astype(np.uint8), 12) > 0  # give the eroded edges back
    return {"harsh": float(sustained.mean()), "hf_excess_db": float(np.percentile((hf - np.median(hf[loud]))[loud], 99))}


def structure(a: Analysis) -> dict[str, float]:
    """repetition: how exactly the take repeats itself at some lag >= 0.75 s (1 = an exact
    loop), as 1 - (the smallest lag difference / the median one), so music whose drums
    repeat but whose melody moves scores far below a sample loop. novelty_db: how much the
    spectrum moves over time (std of 0.5 s-smoothed band levels); a drone barely moves."""
    step = 4  # 46 ms frames are plenty for structure and keep the lag search cheap
    n = a.bands_db.shape[0] // step
    if n < 8:
        return {"repetition": 0.0, "novelty_db": 0.0}
    x = a.bands_db[: n * step].reshape(n, step, -1).mean(axis=1)
    live = np.flatnonzero(uniform_filter1d(a.frame_db[: n * step].reshape(n, step).mean(axis=1), 3) > SILENT_DB)
    x = np.maximum(x, x.max() - 80.0)  # silence is silence, however many dB under it
    smooth = uniform_filter1d(x, 11, axis=0)  # ~0.5 s
    novelty = float(np.mean(np.std(smooth[live], axis=0))) if len(live) > 1 else 0.0
    fr = a.frame_rate / step
    lo, hi = int(round(0.75 * fr)), n // 2
    if hi <= lo + 2:
        return {"repetition": 0.0, "novelty_db": novelty}
    z = x - x.mean(axis=0)
    sq = (z ** 2).sum(axis=1)
    csum = np.concatenate([[0.0], np.cumsum(sq)])
    spec = np.fft.rfft(z, 2 * n, axis=0)
    cross = np.fft.irfft((spec * spec.conj()).sum(axis=1), 2 * n)[:n]
    lags = np.arange(lo, hi)
    count = n - lags
    # mean over t of |z_t - z_{t+lag}|^2, from the autocorrelation: O(n log n), not O(n^2)
    dist = ((csum[n - lags] - csum[0]) + (csum[n] - csum[lags]) - 2 * cross[lags]) / count
    med = np.median(dist)
    # Relative to at least 4 dB per band: a drone's slow beating repeats too, but its
    # differences are too small to call it a loop (that is the drone check's job).
    repetition = float((med - dist.min()) / max(med, x.shape[1] * 16.0))
    return {"repetition": max(0.0, repetition), "novelty_db": novelty}


def _acf(env: np.ndarray) -> np.ndarray:
    env = env - env.mean()
    n = len(env)
    r = np.fft.irfft(np.abs(np.fft.rfft(env, 2 * n)) ** 2, 2 * n)[:n]
    return r / r[0] if r[0] > 0 else np.zeros(n)


def rhythm(a: Analysis) -> dict[str, float]:
    """pulse_clarity: the onset autocorrelation's highest peak between 60 and 200 BPM (0 =
    no pulse, near 1 = a metronome). tempo: that peak in BPM. tempo_drift: spread of the
    beat period across ~3 s windows, relative to it (0 = steady)."""
    flux = onset_envelope(a)
    env = flux - uniform_filter1d(flux, 43)  # remove the slow trend (~0.5 s) so only onsets remain
    # A drone's slow beating is periodic too; scaling by how strong the onsets are (dB of
    # rise per hop, summed over bands) keeps a barely moving sound from reading as a beat.
    strength = float(flux.mean()) / (float(flux.mean()) + 5.0)
    fr = a.frame_rate
    lo, hi = int(fr * 60 / 200), int(fr * 60 / 60)
    if len(env) < 2 * hi:
        return {"pulse_clarity": 0.0, "tempo": 0.0, "tempo_drift": 0.0}
    r = _acf(env)
    lag = lo + int(np.argmax(r[lo:hi]))
    clarity = float(max(0.0, r[lag])) * strength
    drift = 0.0
    win = max(2 * hi + 1, int(3.0 * fr))
    periods = []
    for start in range(0, len(env) - win + 1, win // 2):
        rw = _acf(env[start:start + win])
        a_lo, a_hi = max(lo, int(lag * 0.85)), min(len(rw) - 1, int(lag * 1.15) + 1)
        k = a_lo + int(np.argmax(rw[a_lo:a_hi]))
        if 0 < k < len(rw) - 1:  # parabolic interpolation: sub-hop period accuracy
            den = rw[k - 1] - 2 * rw[k] + rw[k + 1]
            k = k + (0.5 * (rw[k - 1] - rw[k + 1]) / den if den < 0 else 0.0)
        periods.append(k)
    if len(periods) >= 2:
        drift = float(np.std(periods) / np.mean(periods))
    return {"pulse_clarity": clarity, "tempo": 60.0 * fr / lag if clarity > 0 else 0.0, "tempo_drift": drift}


def end_decay(a: Analysis) -> float:
    """Seconds the last sound takes to fall from near its level to silence, when silence
    follows it (a take that runs to the end of the file is cut by the renderer and faded
    by master, so it is not judged). A hard cut falls in one or two hops; a note's
    release or a fade takes tenths of a second. 1.0 means "no ending to judge"."""
    db = a.frame_db
    sounding = np.flatnonzero(db > SILENT_DB + 10)  # -50 dB: the end of audible sound
    if len(sounding) == 0:
        return 1.0
    last = sounding[-1]
    if len(db) - 1 - last < int(0.25 * a.frame_rate):
        return 1.0
    before = db[max(0, last - int(2 * a.frame_rate)): last + 1]
    level = np.median(before[before > SILENT_DB + 10]) - 10.0
    near = np.flatnonzero(db[: last + 1] >= level)
    start = near[-1] if len(near) else last
    return float(min(1.0, (last - start + 1) / a.frame_rate))
