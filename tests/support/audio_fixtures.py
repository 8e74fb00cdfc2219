"""Synthesised takes for the picker's tests: a music-like signal and the ways MusicGen
fails. Everything is built from a seed, so every run scores the same audio.

The clean signal is chords, a melody that never repeats exactly, and a drum kit at a
steady 120 BPM with slightly varied velocities, the way a played part varies.
"""
from __future__ import annotations

import numpy as np

SR = 32000  # MusicGen's rate
SECONDS = 6.0
BPM = 120.0
SCALE = [0, 2, 4, 5, 7, 9, 11]
CHORDS = [(48, 52, 55), (45, 48, 52), (41, 45, 48), (43, 47, 50)]  # C, Am, F, G (MIDI)


def _hz(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def _note(sr: int, hz: float, seconds: float, harmonics=(1.0, 0.5, 0.25, 0.12), decay: float = 1.5) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    tone = sum(a * np.sin(2 * np.pi * hz * (k + 1) * t) for k, a in enumerate(harmonics) if hz * (k + 1) < sr / 2)
    env = np.minimum(1.0, t / 0.01) * np.exp(-t * decay) * np.minimum(1.0, (seconds - t) / 0.02)
    return tone * env


def _add(out: np.ndarray, sig: np.ndarray, start: int) -> None:
    end = min(len(out), start + len(sig))
    if start < end:
        out[start:end] += sig[: end - start]


def _kick(sr, rng):
    t = np.arange(int(sr * 0.2)) / sr
    freq = 50 + 100 * np.exp(-t * 30)
    return np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t * 18)


def _snare(sr, rng):
    t = np.arange(int(sr * 0.15)) / sr
    noise = np.diff(rng.standard_normal(len(t) + 1))  # a first difference tilts it bright
    return (0.5 * noise + 0.6 * np.sin(2 * np.pi * 190 * t)) * np.exp(-t * 30)


def _hat(sr, rng):
    t = np.arange(int(sr * 0.04)) / sr
    noise = np.diff(rng.standard_normal(len(t) + 2), n=2)
    return 0.15 * noise * np.exp(-t * 90)


def music(sr: int = SR, seconds: float = SECONDS, seed: int = 0) -> np.ndarray:
    """Mono float64 music-like audio, peak 0.5."""
    rng = np.random.default_rng(seed)
    n = int(sr * seconds)
    out = np.zeros(n)
    beat = 60.0 / BPM
    bar = 4 * beat
    for i in range(int(np.ceil(seconds / bar))):
        for m in CHORDS[i % len(CHORDS)]:
            _add(out, 0.18 * _note(sr, _hz(m), bar, decay=0.6), int(i * bar * sr))
        _add(out, 0.3 * _note(sr, _hz(CHORDS[i % len(CHORDS)][0] - 12), bar, decay=0.8), int(i * bar * sr))
    t = 0.0
    while t < seconds:  # a random walk over the scale: it never loops
        dur = beat * rng.choice([0.5, 1.0, 1.5])
        pitch = 72 + SCALE[rng.integers(len(SCALE))] + 12 * rng.integers(0, 2) - 12 * rng.integers(0, 2)
        _add(out, 0.22 * _note(sr, _hz(pitch), dur, decay=2.0), int(t * sr))
        t += dur
    for k in range(int(seconds / (beat / 2)) + 1):
        start = int(k * beat / 2 * sr)
        vel = 1.0 + 0.1 * rng.standard_normal()
        _add(out, 0.4 * vel * _hat(sr, rng), start)
        if k % 4 == 0:
            _add(out, 0.9 * vel * _kick(sr, rng), start)
        if k % 4 == 2:
            _add(out, 0.5 * vel * _snare(sr, rng), start)
    return 0.5 * out / np.max(np.abs(out))


def white_noise(sr: int = SR, seconds: float = SECONDS, seed: int = 1) -> np.ndarray:
    return 0.1 * np.random.default_rng(seed).standard_normal(int(sr * seconds))


def pink_noise(sr: int = SR, seconds: float = SECONDS, seed: int = 2) -> np.ndarray:
    n = int(sr * seconds)
    spec = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / sr)
    spec /= np.sqrt(np.maximum(f, 20.0))
    x = np.fft.irfft(spec, n)
    return 0.5 * x / np.max(np.abs(x))


def clipped(sr: int = SR, seconds: float = SECONDS) -> np.ndarray:
    return np.clip(music(sr, seconds) * 6.0, -1.0, 1.0)


def mostly_silent(sr: int = SR, seconds: float = SECONDS) -> np.ndarray:
    """1.5 s of music fading out, then digital silence."""
    x = music(sr, seconds)
    n = int(1.5 * sr)
    fade = int(0.5 * sr)
    x[n - fade:n] *= np.linspace(1.0, 0.0, fade)
    x[n:] = 0.0
    return x


def harsh_bursts(sr: int = SR, seconds: float = SECONDS) -> np.ndarray:
    """Two 0.4 s screeches at 6-8 kHz as loud as the music, as MusicGen makes at breakdowns."""
    x = music(sr, seconds)
    t = np.arange(int(0.4 * sr)) / sr
    screech = sum(np.sin(2 * np.pi * f * t + 3 * np.sin(2 * np.pi * 7 * t)) for f in (6100.0, 7300.0, 8200.0))
    screech *= 0.45 / np.max(np.abs(screech)) * np.minimum(1.0, t / 0.005)
    for at in (1.7, 4.1):
        _add(x, screech, int(at * sr))
    return x


def exact_loop(sr: int = SR, seconds: float = SECONDS) -> np.ndarray:
    """MusicGen stuck in a loop: its first second repeated to the end."""
    seg = music(sr, seconds)[: sr]
    return np.tile(seg, int(np.ceil(seconds)))[: int(sr * seconds)]


def drone(sr: int = SR, seconds: float = SECONDS) -> np.ndarray:
    """One sustained chord that never changes."""
    t = np.arange(int(sr * seconds)) / sr
    x = sum(a * np.sin(2 * np.pi * _hz(m) * k * t) for m, a in ((45, 0.5), (52, 0.35), (57, 0.3))
            for k in (1, 2, 3))
    x *= np.minimum(1.0, t / 0.05) * np.minimum(1.0, (seconds - t) / 0.05)
    return 0.5 * x / np.max(np.abs(x))


def with_noise(snr_db: float, sr: int = SR, seconds: float = SECONDS, seed: int = 3) -> np.ndarray:
    """Music plus white noise at this signal-to-noise ratio."""
    x = music(sr, seconds)
    noise = np.random.default_rng(seed).standard_normal(len(x))
    noise *= np.sqrt(np.mean(x ** 2) / np.mean(noise ** 2) / 10 ** (snr_db / 10))
    y = x + noise
    return 0.5 * y / np.max(np.abs(y))


def hard_cut(sr: int = SR, seconds: float = SECONDS) -> np.ndarray:
    """Music that stops dead mid-note 0.9 s before the end of the file."""
    x = music(sr, seconds)
    x[int((seconds - 0.9) * sr):] = 0.0
    return x


def drifting_tempo(sr: int = SR, seconds: float = SECONDS, bpm=(100.0, 150.0), seed: int = 4) -> np.ndarray:
    """Chords and a drum kit whose tempo slides from bpm[0] to bpm[1]: no steady beat."""
    rng = np.random.default_rng(seed)
    n = int(sr * seconds)
    out = np.zeros(n)
    for m in CHORDS[0]:
        _add(out, 0.15 * _note(sr, _hz(m), seconds, decay=0.2), 0)
    t, k = 0.0, 0
    while t < seconds:
        start = int(t * sr)
        _add(out, 0.4 * _hat(sr, rng), start)
        if k % 4 == 0:
            _add(out, 0.9 * _kick(sr, rng), start)
        if k % 4 == 2:
            _add(out, 0.5 * _snare(sr, rng), start)
        bpm_now = bpm[0] + (bpm[1] - bpm[0]) * t / seconds
        t += 30.0 / bpm_now  # eighth notes
        k += 1
    return 0.5 * out / np.max(np.abs(out))


FAILURES = {  # fixture -> the check it must trip
    "white_noise": ("noise", white_noise),
    "pink_noise": ("noise", pink_noise),
    "clipped": ("clipping", clipped),
    "mostly_silent": ("silence", mostly_silent),
    "harsh_bursts": ("harsh", harsh_bursts),
    "exact_loop": ("loop", exact_loop),
    "drone": ("drone", drone),
    "noise_0db": ("noise", lambda sr=SR, seconds=SECONDS: with_noise(0.0, sr, seconds)),
    "hard_cut": ("abrupt_end", hard_cut),
}


def stereo(x: np.ndarray, width: float = 0.0) -> np.ndarray:
    """(frames, 2); width > 0 delays the right channel a little, as a real mix differs per side."""
    right = np.roll(x, int(width)) if width else x
    return np.stack([x, right], axis=1)


def to_int16(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, -1, 1) * 32767).astype(np.int16)
