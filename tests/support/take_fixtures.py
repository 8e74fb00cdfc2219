"""Richer synthesised takes for the failures generated music has: pieces in many
styles, keys, tempi and timbres, and each failure applied to a copy of one of them.

A piece is built from a seed alone, so a test or a bench run can draw as many different
takes as it wants and every run hears the same audio. Styles range from a full band to a
solo bass line and a dark pad, so checks are tried against takes that are legitimately dark,
sparse or static. A short room reverb keeps every style from having the digital silence
between notes that only a synthesiser makes.
"""
from __future__ import annotations

import numpy as np
from scipy import signal

SR = 32000
TABLE = 4096
STYLES = ("band", "electronic", "piano", "ambient", "dark_bass", "dark_pad")
DARK = ("dark_bass", "dark_pad")
MAJOR = [0, 2, 4, 5, 7, 9, 11]
MINOR = [0, 2, 3, 5, 7, 8, 10]
PROGRESSIONS = [(0, 5, 3, 4), (0, 3, 4, 4), (5, 3, 0, 4), (0, 4, 5, 3), (1, 4, 0, 0), (0, 6, 5, 4)]


def _hz(midi):
    return 440.0 * 2 ** ((np.asarray(midi, dtype=float) - 69) / 12)


def _tone(sr, hz, seconds, timbre, rng):
    """One note of a named timbre: (partials and their amplitudes, envelope)."""
    t = np.arange(int(sr * seconds)) / sr
    vib = 1 + 0.003 * np.sin(2 * np.pi * rng.uniform(4, 6) * t) if timbre in ("pad", "saw", "organ") else 1.0
    if timbre == "keys":
        parts, env = [(k, 0.6 ** (k - 1)) for k in range(1, 9)], np.exp(-t * 2.0)
    elif timbre == "pluck":
        parts, env = [(k, 1.0 / k) for k in range(1, 16)], np.exp(-t * 6.0)
    elif timbre == "saw":
        parts, env = [(k, 1.0 / k) for k in range(1, 24)], np.ones_like(t)
    elif timbre == "organ":
        parts, env = [(k, 1.0 / k) for k in (1, 2, 3, 4, 6, 8)], np.ones_like(t)
    elif timbre == "bell":
        parts, env = [(1.0, 1.0), (2.76, 0.5), (5.4, 0.25), (8.93, 0.12)], np.exp(-t * 1.5)
    elif timbre == "bass":
        parts, env = [(1, 1.0), (2, 0.35), (3, 0.12)], np.exp(-t * 0.8)
    else:  # pad: few partials, slow swell
        parts, env = [(1, 1.0), (2, 0.3), (3, 0.1)], np.minimum(1.0, t / 0.4)
    # One cycle as a table, read at the note's phase: cheap however many partials it has.
    # Inharmonic partials (the bell) cannot share a cycle, so they are summed directly.
    harmonic = all(float(k).is_integer() for k, _ in parts)
    if harmonic:
        cyc = np.arange(TABLE) / TABLE
        table = sum(a * np.sin(2 * np.pi * k * cyc + rng.uniform(0, 2 * np.pi))
                    for k, a in parts if hz * k < sr / 2.2)
        phase = (np.cumsum(np.full(len(t), hz) * vib) / sr) % 1.0
        tone = np.interp(phase * TABLE, np.arange(TABLE + 1), np.append(table, table[0]))
    else:
        tone = sum(a * np.sin(2 * np.pi * hz * k * t + rng.uniform(0, 2 * np.pi)) for k, a in parts if hz * k < sr / 2.2)
    edge = np.minimum(1.0, np.minimum(t / 0.005, (seconds - t) / 0.03))
    return tone * env * np.clip(edge, 0, 1)


def _add(out, sig, start):
    end = min(len(out), start + len(sig))
    if 0 <= start < end:
        out[start:end] += sig[: end - start]


def _drum(sr, kind, rng, bright):
    t = np.arange(int(sr * {"kick": 0.25, "snare": 0.18, "hat": 0.05}[kind])) / sr
    if kind == "kick":
        return np.sin(2 * np.pi * np.cumsum(45 + 110 * np.exp(-t * 35)) / sr) * np.exp(-t * 14)
    noise = rng.standard_normal(len(t))
    if kind == "snare":
        noise = np.diff(noise, prepend=0.0)
        return (0.5 * noise + 0.6 * np.sin(2 * np.pi * rng.uniform(170, 230) * t)) * np.exp(-t * 25)
    return bright * np.diff(noise, n=2, prepend=[0.0, 0.0]) * np.exp(-t * 80)


def _reverb(x, sr, rng, seconds=0.6, wet=0.25):
    t = np.arange(int(sr * seconds)) / sr
    ir = rng.standard_normal(len(t)) * np.exp(-t * 6.9 / seconds)
    ir = signal.sosfilt(signal.butter(2, 5000, fs=sr, output="sos"), ir)
    y = signal.fftconvolve(x, ir)[: len(x)]
    return x + wet * y * np.sqrt(np.mean(x ** 2) / max(np.mean(y ** 2), 1e-20))


def piece(seed: int, seconds: float = 12.0, sr: int = SR, style: str | None = None,
          drums: float = 1.0) -> np.ndarray:
    """Mono float64 music in one of STYLES (drawn from the seed when None), peak 0.5.
    `drums`: the level of a band's or an electronic piece's drums; 0 leaves them out and
    every other part exactly as it is (the same draws), so two versions can be spliced."""
    rng = np.random.default_rng(seed)
    style = style or STYLES[rng.integers(len(STYLES))]
    bpm = rng.uniform(70, 100) if style in ("ambient", "dark_pad") else rng.uniform(80, 170)
    root = 36 + int(rng.integers(0, 12))
    scale = MINOR if rng.random() < 0.5 else MAJOR
    prog = PROGRESSIONS[rng.integers(len(PROGRESSIONS))]
    beat = 60.0 / bpm
    bar = 4 * beat
    n = int(sr * seconds)
    out = np.zeros(n)
    chord_timbre = {"band": rng.choice(["keys", "saw", "organ"]), "electronic": "saw", "piano": "keys",
                    "ambient": "pad", "dark_pad": "pad"}.get(style)
    lead = {"band": rng.choice(["pluck", "keys", "organ"]), "electronic": "pluck", "piano": "keys",
            "ambient": "bell"}.get(style)
    for i in range(int(np.ceil(seconds / bar))):
        degree = prog[i % len(prog)]
        # A played part varies: now and then a seventh or a ninth, never the same loudness twice.
        steps = (0, 2, 4) + ((int(rng.choice([6, 8])),) if rng.random() < 0.4 else ())
        chord = [root + 12 + scale[(degree + s) % 7] + 12 * ((degree + s) // 7) for s in steps]
        start = int(i * bar * sr)
        if chord_timbre:
            for m in chord:
                amp = 0.16 * rng.uniform(0.6, 1.1)
                _add(out, amp * _tone(sr, _hz(m + (12 if style != "dark_pad" else 0)), bar, chord_timbre, rng), start)
        if style != "ambient":  # a bass line: the root on the beats, walking in dark_bass
            for b in range(4):
                m = chord[0] - 12 + (scale[rng.integers(7)] if style == "dark_bass" and b % 2 else 0)
                _add(out, 0.35 * _tone(sr, _hz(m), beat * 0.95, "bass", rng), int((i * bar + b * beat) * sr))
    if lead:
        t = rng.uniform(0, beat)
        while t < seconds:
            dur = beat * rng.choice([0.5, 1.0, 1.5, 2.0])
            m = root + 24 + scale[rng.integers(7)] + 12 * int(rng.integers(0, 2))
            _add(out, 0.2 * rng.uniform(0.7, 1.0) * _tone(sr, _hz(m), dur, lead, rng), int(t * sr))
            t += dur + beat * 0.5 * int(rng.integers(0, 2))
    if style in ("band", "electronic"):
        bright = rng.uniform(0.1, 0.3)
        for k in range(int(seconds / (beat / 2)) + 1):
            at = int(k * beat / 2 * sr)
            vel = 1.0 + 0.1 * rng.standard_normal()
            _add(out, 0.4 * vel * drums * _drum(sr, "hat", rng, bright), at)
            if k % 4 == 0 or (style == "electronic" and k % 2 == 0):
                _add(out, 0.9 * vel * drums * _drum(sr, "kick", rng, bright), at)
            if k % 4 == 2:
                _add(out, 0.5 * vel * drums * _drum(sr, "snare", rng, bright), at)
    if style in DARK:  # a warm, dark sound: nothing much above 1-2 kHz
        out = signal.sosfilt(signal.butter(2, rng.uniform(700, 1500), fs=sr, output="sos"), out)
    out = _reverb(out, sr, rng, wet=rng.uniform(0.1, 0.35))
    return 0.5 * out / np.max(np.abs(out))


def _rms(x):
    return float(np.sqrt(np.mean(x ** 2)))


def _splice(a, b, at, sr, fade=0.01):
    """a up to `at`, then b from `at` on, with a short crossfade (an editor's, not a click)."""
    k = int(fade * sr)
    out = np.concatenate([a[:at], b[at:]])
    ramp = np.linspace(0, 1, k)
    out[at - k // 2: at - k // 2 + k] = a[at - k // 2: at - k // 2 + k] * (1 - ramp) + b[at - k // 2: at - k // 2 + k] * ramp
    return out


def dull(x, sr=SR, cutoff=2500.0):
    """Content above `cutoff` gone (a steep low-pass), level matched."""
    y = signal.sosfiltfilt(signal.butter(8, cutoff, fs=sr, output="sos"), x)
    return y * _rms(x) / _rms(y)


def dropouts(x, sr=SR, seed=0, count=3, seconds=0.4, depth_db=None):
    """`count` gaps mid-take: digital silence, or the audio `depth_db` down when given."""
    rng = np.random.default_rng(seed)
    y = x.copy()
    n = len(x)
    slots = np.sort(rng.choice(np.arange(1, count * 2 + 1), count, replace=False))
    for s in slots:
        at = int(n * (0.1 + 0.8 * s / (count * 2 + 1)))
        y[at: at + int(seconds * sr)] *= 0.0 if depth_db is None else 10 ** (-depth_db / 20)
    return y


def stuck(x, sr=SR, seed=0, segment=0.25, repeats=12):
    """A short segment repeated `repeats` times mid-take (a token loop), length kept."""
    rng = np.random.default_rng(seed)
    seg = int(segment * sr)
    at = int(rng.uniform(0.2, 0.5) * len(x))
    y = x.copy()
    y[at: at + seg * repeats] = np.tile(x[at: at + seg], repeats)[: len(y) - at]
    return y


def hum(x, sr=SR, mains=50.0, level_db=-30.0, seed=0):
    """Mains hum (fundamental and a few harmonics) `level_db` under the music's RMS."""
    rng = np.random.default_rng(seed)
    t = np.arange(len(x)) / sr
    h = sum(a * np.sin(2 * np.pi * mains * k * t + rng.uniform(0, 6.3)) for k, a in ((1, 1.0), (2, 0.6), (3, 0.4), (4, 0.2)))
    return x + h * _rms(x) * 10 ** (level_db / 20) / _rms(h)


def jump(x, other, sr=SR, at=None, seed=0):
    """From `at` seconds on, unrelated material (`other`, level matched) replaces the take."""
    rng = np.random.default_rng(seed)
    at = int((at if at is not None else rng.uniform(0.35, 0.65) * len(x) / sr) * sr)
    other = other[: len(x)] * _rms(x) / _rms(other[: len(x)])
    return _splice(x, other, at, sr)



def breakdown(seed, seconds=12.0, sr=SR, style="band", enter=False, at=0.4):
    """A piece whose drums stop at `at` of its length (or, with `enter`, come in there),
    the way a drummer stops: the last hits ring out over 0.3 s, and the tempo, the chords
    and every other part go on as they were. A groove that changes is no jump."""
    full = piece(seed, seconds, sr, style)
    bare = piece(seed, seconds, sr, style, drums=0.0)
    bare = bare * float(np.dot(full, bare) / np.dot(bare, bare))  # the parts both share, at one level
    first, then = (bare, full) if enter else (full, bare)
    return _splice(first, then, int(at * seconds * sr), sr, fade=0.3)

def seam(x, join, sr=SR, seed=0):
    """At the window join (seconds) the take jumps to another point of itself."""
    rng = np.random.default_rng(seed)
    j = int(join * sr)
    rest = len(x) - j
    src = int(rng.uniform(0.0, j - 2 * sr))  # back to an earlier point, at least 2 s before
    shifted = np.concatenate([np.zeros(j), x[src: src + rest]])
    return _splice(x, shifted, j, sr)


def cymbals(x, sr=SR, seed=0, bpm=None, level_db=-6.0):
    """Bright cymbals over a take: a crash every two bars (noise over 5 kHz ringing ~1.5 s)
    and a ride on the eighths (over 7 kHz, ~0.2 s), `level_db` against the take's RMS, the
    way a finished pop or rock mix sounds."""
    rng = np.random.default_rng(seed + 31)
    bpm = bpm or rng.uniform(90, 150)
    beat = 60.0 / bpm
    out = np.zeros(len(x))
    hp5 = signal.butter(2, 5000, "highpass", fs=sr, output="sos")
    hp7 = signal.butter(2, 7000, "highpass", fs=sr, output="sos")
    t_crash = np.arange(int(1.8 * sr)) / sr
    t_ride = np.arange(int(0.25 * sr)) / sr
    for k in range(int(len(x) / sr / (beat / 2)) + 1):
        at = int(k * beat / 2 * sr)
        if k % 16 == 0:
            _add(out, signal.sosfilt(hp5, rng.standard_normal(len(t_crash))) * np.exp(-t_crash * 3.0), at)
        _add(out, 0.5 * rng.uniform(0.7, 1.0) * signal.sosfilt(hp7, rng.standard_normal(len(t_ride)))
             * np.exp(-t_ride * 18.0), at)
    return x + out * _rms(x) * 10 ** (level_db / 20) / max(_rms(out), 1e-12)


def _limit(x, sr, ceiling, lookahead=0.0015, release=0.06):
    """A brickwall limiter: the gain each sample needs, held over the lookahead and smoothed,
    so the gain reaches its floor before the peak does; then a hard ceiling for what the
    smoothing let through (a mastering clipper's last fraction of a dB)."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    need = np.minimum(1.0, ceiling / np.maximum(np.abs(x), 1e-12))
    k = max(1, int(lookahead * sr))
    g = minimum_filter1d(need, 2 * k + 1)
    g = signal.lfilter([1 - np.exp(-1 / (release * sr))], [1, -np.exp(-1 / (release * sr))], g - 1.0) + 1.0
    g = np.minimum(g, minimum_filter1d(need, 2 * k + 1))
    g = uniform_filter1d(g, k)
    return np.clip(x * g, -1.0, 1.0)


def loud_master(x, sr=SR, lufs=-8.0, full_scale=0.01, seed=0):
    """A commercially loud master of `x`: bright cymbals added, pushed into a limiter whose
    ceiling sits a little over full scale and a clipper at full scale, driven until the
    integrated loudness is `lufs`, with the limiter's overshoot set so that about
    `full_scale` of the samples sit at full scale, as a loud record's do."""
    from albumgen.audio.loudness import integrated_loudness

    y = cymbals(x, sr, seed)
    y = y / np.max(np.abs(y))
    over = 1.0
    for _ in range(8):  # drive for loudness, then overshoot for the share at full scale
        lo, hi = 0.0, 30.0
        for _ in range(14):
            drive = (lo + hi) / 2
            out = _limit(y * 10 ** (drive / 20), sr, over)
            lo, hi = (drive, hi) if integrated_loudness(out, sr) < lufs else (lo, drive)
        share = float(np.mean(np.abs(out) >= 0.9999))
        if abs(share - full_scale) < 0.2 * full_scale:
            break
        over *= (full_scale / max(share, 1e-4)) ** 0.05
    return out


def hard_clip(x, drive_db=12.0):
    """`x` (scaled to full-scale peak) driven `drive_db` into a hard clip at full scale."""
    return np.clip(x / np.max(np.abs(x)) * 10 ** (drive_db / 20), -1.0, 1.0)
