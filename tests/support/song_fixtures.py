"""Whole songs as ACE-Step makes them: 48 kHz stereo, minutes long, a sung voice over an
accompaniment. Built from a seed, like every fixture.

The voice is a source and filter, as a singer is: a harmonic tone (partials falling
12 dB an octave, as a glottal pulse's do) whose pitch glides from note to note and
swings in a vibrato that sets in a moment after each note starts, shaped by the
formants of a vowel per note, with breaths between phrases and a long held note ending
each phrase. The accompaniment is take_fixtures' pieces. Everything is made at 24 kHz
and resampled to 48 kHz: the picker analyses at 22 kHz, and half the samples make a
three-minute song in a second or two.
"""
from __future__ import annotations

import numpy as np
import take_fixtures as T
from scipy import signal

SR = 48000
MAKE = 24000  # synthesis rate: everything the picker hears lies under 11 kHz
VOWELS = {  # formants (Hz) and their bandwidths: a, e, i, o, u
    "a": ((800, 1150, 2900), (80, 90, 120)),
    "e": ((400, 1700, 2600), (70, 80, 100)),
    "i": ((300, 2300, 3000), (50, 90, 120)),
    "o": ((450, 800, 2830), (70, 80, 100)),
    "u": ((325, 700, 2530), (50, 60, 170)),
}
TABLE = 8192


def _hz(midi):
    return 440.0 * 2 ** ((np.asarray(midi, dtype=float) - 69) / 12)


def _formants(x: np.ndarray, vowel: str, sr: int) -> np.ndarray:
    """The vowel's three resonances in parallel, each a two-pole band-pass."""
    freqs, widths = VOWELS[vowel]
    out = np.zeros_like(x)
    for k, (f, bw) in enumerate(zip(freqs, widths)):
        r = np.exp(-np.pi * bw / sr)
        a = [1.0, -2 * r * np.cos(2 * np.pi * f / sr), r * r]
        out += (0.5 ** k) * signal.lfilter([1 - r], a, x)
    return out


_TABLE: list[np.ndarray] = []


def _voice_table() -> np.ndarray:
    """One cycle of the source: partials at 1/k^2 in power (12 dB an octave), random phases."""
    if not _TABLE:
        rng = np.random.default_rng(7)
        cyc = np.arange(TABLE) / TABLE
        _TABLE.append(sum(np.sin(2 * np.pi * k * cyc + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 48)))
    return _TABLE[0]


def sung_note(midi: float, seconds: float, vowel: str, rng: np.random.Generator, sr: int = MAKE,
              glide_from: float | None = None) -> np.ndarray:
    """One sung note: a glide from the last note's pitch, a vibrato (5-6 Hz, +-40 cents)
    that sets in over 0.3 s, a little drift, the vowel's formants, a soft onset and release."""
    n = int(seconds * sr)
    t = np.arange(n) / sr
    pitch = np.full(n, float(midi))
    if glide_from is not None:
        pitch += (glide_from - midi) * np.exp(-t / 0.04)
    depth = 0.4 * np.clip((t - 0.25) / 0.3, 0.0, 1.0)
    pitch += depth * np.sin(2 * np.pi * rng.uniform(5.0, 6.0) * t + rng.uniform(0, 6.3))
    pitch += 0.05 * np.cumsum(rng.standard_normal(n)) / np.sqrt(sr)  # a singer's slow wander
    f0 = _hz(pitch)
    table = _voice_table()
    # Partials above Nyquist would fold back: the table is read only where they do not.
    phase = (np.cumsum(f0) / sr) % 1.0
    src = np.interp(phase * TABLE, np.arange(TABLE + 1), np.append(table, table[0]))
    src = signal.sosfilt(signal.butter(4, 0.45 * sr, fs=sr, output="sos"), src)
    env = np.minimum(1.0, t / 0.06) * np.minimum(1.0, np.maximum(seconds - t, 0.0) / 0.12)
    env *= 1.0 + 0.1 * np.sin(2 * np.pi * 0.7 * t)  # phrasing: a note swells and eases
    return _formants(src, vowel, sr) * env


def voice(seconds: float, rng: np.random.Generator, low: int, high: int, scale: list[int], root: int,
          hold: tuple[float, float] = (1.5, 4.0), sr: int = MAKE, held_pitch: float | None = None) -> np.ndarray:
    """Phrases of 4-8 notes of the scale between `low` and `high` (MIDI), each ending in a
    held note of `hold` seconds (at `held_pitch` when given), a breath between phrases."""
    out = np.zeros(int(seconds * sr))
    t = rng.uniform(0.5, 2.0)
    last = None
    pitches = [p for p in range(low, high + 1) if (p - root) % 12 in scale]
    while t < seconds - 1.0:
        for i in range(int(rng.integers(4, 9))):
            last_note = i == 7 or rng.random() < 0.15
            dur = rng.uniform(*hold) if last_note else rng.uniform(0.25, 0.9)
            m = float(held_pitch) if last_note and held_pitch is not None else float(rng.choice(pitches))
            note = sung_note(m, min(dur, seconds - t), str(rng.choice(list(VOWELS))), rng, sr, last)
            T._add(out, note * rng.uniform(0.7, 1.0), int(t * sr))
            last = m
            t += dur
            if last_note or t >= seconds - 1.0:
                break
        breath = rng.uniform(0.3, 0.9)
        nb = int(0.25 * sr)
        noise = signal.sosfilt(signal.butter(2, [1500, 5000], "bandpass", fs=sr, output="sos"),
                               rng.standard_normal(nb)) * np.hanning(nb) * 0.02
        T._add(out, noise, int((t + breath / 3) * sr))
        t += breath
    return out


def _mix(accompaniment: np.ndarray, vocal: np.ndarray, vocal_db: float, rng: np.random.Generator) -> np.ndarray:
    """The voice `vocal_db` over the accompaniment, centred; the accompaniment a little wider
    (the right side 7 ms later), a short room on the voice; 48 kHz stereo, peak 0.9."""
    t = np.arange(int(MAKE * 1.2)) / MAKE
    room = signal.sosfilt(signal.butter(2, 5000, fs=MAKE, output="sos"), rng.standard_normal(len(t)))
    wet = signal.oaconvolve(vocal, room * np.exp(-t * 5.75))[: len(vocal)]
    vocal = vocal + 0.2 * wet * np.sqrt(np.mean(vocal ** 2) / max(np.mean(wet ** 2), 1e-20))
    rms = lambda x: np.sqrt(np.mean(x ** 2))  # noqa: E731
    vocal = vocal * rms(accompaniment) / rms(vocal) * 10 ** (vocal_db / 20)
    sides = [accompaniment + vocal, np.roll(accompaniment, int(0.007 * MAKE)) + vocal]
    x = np.stack([signal.resample_poly(c, SR // MAKE, 1) for c in sides], axis=1)
    return 0.9 * x / np.max(np.abs(x))


def arrange(accompaniment: np.ndarray, form: str, seconds: float) -> np.ndarray:
    """The accompaniment cut into as many sections as `form` names (e.g. "VCB"), laid end to
    end in `form` (e.g. "VCVCBC"), cut to `seconds`: a song keeps its tempo and key and
    repeats its verse and chorus, as a producer copies them."""
    names = sorted(set(form), key=form.index)
    size = len(accompaniment) // len(names)
    parts = {k: accompaniment[i * size: (i + 1) * size] for i, k in enumerate(names)}
    return np.concatenate([parts[k] for k in form])[: int(seconds * MAKE)]


def song(seed: int, seconds: float = 200.0) -> np.ndarray:
    """A pop song: a band (drums, bass, chords, a lead) in verse, chorus and bridge sections,
    and a voice over it ending each phrase on a held note; (frames, 2) at 48 kHz."""
    rng = np.random.default_rng(seed)
    band = arrange(T.piece(seed, seconds / 2 + 1, sr=MAKE, style="band"), "VCVCBC", seconds)
    low = int(rng.choice([45, 55]))  # a low or a high voice
    vocal = voice(seconds, rng, low, low + 14, T.MAJOR, int(rng.integers(0, 12)))
    return _mix(band, vocal, 3.0, rng)


def ballad(seed: int, seconds: float = 200.0, loudness_db: float = -20.0) -> np.ndarray:
    """A quiet ballad: a soft piano and a pad, no drums, a voice holding long notes; the whole
    mix `loudness_db` down from full scale (a quiet master, as a ballad often is)."""
    rng = np.random.default_rng(seed)
    half = seconds * 0.4 + 1
    keys = T.piece(seed, half, sr=MAKE, style="piano") + 0.5 * T.piece(seed + 1, half, sr=MAKE, style="dark_pad")
    keys = arrange(keys, "VCVCC", seconds)
    low = int(rng.choice([45, 55]))
    vocal = voice(seconds, rng, low, low + 12, T.MINOR, int(rng.integers(0, 12)), hold=(2.5, 6.0))
    mix = _mix(keys, vocal, 4.0, rng)
    return mix * 10 ** (loudness_db / 20)


def held_notes(seed: int, seconds: float = 30.0, hz=(100.0, 120.0, 150.0, 240.0)) -> np.ndarray:
    """A singer holding 4.5 s notes over a soft pad, each note right on a harmonic of 50 or
    60 Hz mains (`hz`), where a hum check looks: a take that is all sung notes."""
    pitches = [mains_pitch(f) for f in hz]
    rng = np.random.default_rng(seed)
    pad = T.piece(seed, seconds, sr=MAKE, style="ambient")
    out = np.zeros(int(seconds * MAKE))
    t, last = 0.5, None
    for i in range(int(seconds // 5)):
        m = pitches[i % len(pitches)]
        note = sung_note(m, 4.5, str(rng.choice(list(VOWELS))), rng, MAKE, last)
        T._add(out, note, int(t * MAKE))
        t, last = t + 5.0, m
    return _mix(pad, out, 6.0, rng)


def mains_pitch(hz: float) -> float:
    """The MIDI pitch of a frequency: a note held right on a mains harmonic (100, 120, 240 Hz)."""
    return 69 + 12 * float(np.log2(hz / 440.0))
