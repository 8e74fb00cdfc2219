"""Synthetic music with known truth for the key, tempo, ending and order tests: chord
progressions in a given key, drum patterns at a given tempo, and takes with a known
phrase boundary. Built from a seed, like audio_fixtures."""
from __future__ import annotations

import numpy as np
from audio_fixtures import _add, _hat, _hz, _kick, _note, _snare

SR = 32000
# Triads as semitones over the tonic: I-IV-V-I and i-iv-V-i (harmonic minor's major V,
# whose leading tone is what tells a minor key from its relative major).
PROGRESSIONS = {"major": [(0, 4, 7), (5, 9, 12), (7, 11, 14), (0, 4, 7)],
                "minor": [(0, 3, 7), (5, 8, 12), (7, 11, 14), (0, 3, 7)]}


def chords(tonic: int, mode: str, seconds: float = 8.0, bpm: float = 100.0, sr: int = SR) -> np.ndarray:
    """A chord progression in the key (tonic 0 = C), a bass root under each chord."""
    out = np.zeros(int(sr * seconds))
    bar = 240.0 / bpm
    prog = PROGRESSIONS[mode]
    for i in range(int(np.ceil(seconds / bar))):
        triad = prog[i % len(prog)]
        for s in triad:
            _add(out, 0.2 * _note(sr, _hz(60 + tonic + s), bar, decay=0.5), int(i * bar * sr))
        _add(out, 0.3 * _note(sr, _hz(48 + tonic + triad[0] - (12 if triad[0] >= 7 else 0)), bar, decay=0.7),
             int(i * bar * sr))
    return 0.5 * out / np.max(np.abs(out))


def drums(bpm: float, seconds: float = 12.0, sr: int = SR, seed: int = 0) -> np.ndarray:
    """Kick on 1 and 3, snare on 2 and 4, hats on eighths."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(sr * seconds))
    eighth = 30.0 / bpm
    for k in range(int(seconds / eighth) + 1):
        start = int(k * eighth * sr)
        _add(out, 0.4 * _hat(sr, rng), start)
        if k % 4 == 0:
            _add(out, 0.9 * _kick(sr, rng), start)
        if k % 4 == 2:
            _add(out, 0.5 * _snare(sr, rng), start)
    return 0.5 * out / np.max(np.abs(out))


def clicks(bpm: float, seconds: float = 12.0, sr: int = SR) -> np.ndarray:
    """A metronome: a 1 kHz click per beat, accented on the bar."""
    out = np.zeros(int(sr * seconds))
    t = np.arange(int(0.03 * sr)) / sr
    for k in range(int(seconds * bpm / 60) + 1):
        click = (1.0 if k % 4 == 0 else 0.6) * np.sin(2 * np.pi * 1000 * t) * np.exp(-t * 150)
        _add(out, click, int(k * 60.0 / bpm * sr))
    return 0.5 * out


def song(tonic: int, mode: str, bpm: float, seconds: float = 12.0, sr: int = SR, seed: int = 0) -> np.ndarray:
    """Chords and drums together: a take in a known key at a known tempo."""
    x = 0.6 * chords(tonic, mode, seconds, bpm, sr) + 0.4 * drums(bpm, seconds, sr, seed)
    return 0.5 * x / np.max(np.abs(x))


def with_phrase_end(bpm: float = 120.0, seconds: float = 20.0, end_at: float = 16.0, sr: int = SR) -> np.ndarray:
    """A take whose phrase ends on the bar line at `end_at`: the band stops there, and after
    one bar of near silence a new, quieter phrase starts (the kind of tail a take runs on
    with past its real ending)."""
    x = song(0, "major", bpm, seconds, sr)
    bar = 240.0 / bpm
    n, gap = int(end_at * sr), int((end_at + bar) * sr)
    ring = int(0.05 * sr)  # the last notes stop within 50 ms, as a band does on a cut-off
    x[n:n + ring] *= np.linspace(1.0, 0.0, ring)
    x[n + ring:gap] = 0.0
    x[gap:] *= 0.3
    return x
