"""Music that repeats by nature, and generations that are stuck.

A vamp is what a band plays for a whole take: one to four bars of chords, a bass riff and
a drum pattern repeated every bar, with the small differences playing adds: each hit a
little early or late and a little louder or softer, an acoustic kit's every hit its own
(or a drum machine's one sample per sound), a fill at the end of every fourth bar, and
every note started afresh (its partials' phases differ from the last time). A stuck
generation is a short chunk of a take repeated exactly from some point to the end, as a
model does when its tokens fall into a cycle.
"""
from __future__ import annotations

import numpy as np
import take_fixtures as T

SR = T.SR


def vamp(seed: int, seconds: float = 24.0, sr: int = SR) -> np.ndarray:
    """Mono float64, peak 0.5: a 1, 2 or 4-bar vamp played for `seconds`."""
    rng = np.random.default_rng(seed)
    bpm = rng.uniform(85, 150)
    beat = 60.0 / bpm
    bar = 4 * beat
    bars = int(rng.choice([1, 2, 4]))
    root = 40 + int(rng.integers(0, 12))
    scale = T.MINOR if rng.random() < 0.5 else T.MAJOR
    prog = [T.PROGRESSIONS[rng.integers(len(T.PROGRESSIONS))][i % 4] for i in range(bars)]
    riff = [(b * 0.5, scale[int(rng.integers(0, 7))] * int(rng.random() < 0.5)) for b in range(8)]
    timbre = str(rng.choice(["keys", "saw", "organ", "pluck"]))
    machine = rng.random() < 0.5  # a drum machine's one sample per sound, else an acoustic kit
    bright = rng.uniform(0.1, 0.3)
    kit = {k: T._drum(sr, k, rng, bright) for k in ("kick", "snare", "hat")}
    n = int(sr * seconds)
    out = np.zeros(n)

    def at(t):  # a player's timing: a few milliseconds either way
        return int((t + rng.normal(0, 0.004)) * sr)

    def hit(kind):  # the machine's one sample, or the kit's hit of the moment
        return kit[kind] if machine else T._drum(sr, kind, rng, bright)

    for i in range(int(np.ceil(seconds / bar))):
        degree = prog[i % bars]
        chord = [root + 12 + scale[(degree + s) % 7] + 12 * ((degree + s) // 7) for s in (0, 2, 4)]
        t0 = i * bar
        for m in chord:  # the chord on beats 1 and 3, as a comping part
            for b in (0, 2):
                T._add(out, 0.12 * rng.uniform(0.85, 1.0) * T._tone(sr, T._hz(m), 2 * beat, timbre, rng), at(t0 + b * beat))
        fill = i % 4 == 3
        for off, step in riff:
            m = chord[0] - 12 + (step if not (fill and off >= 2) else scale[int(rng.integers(0, 7))])
            T._add(out, 0.3 * rng.uniform(0.85, 1.0) * T._tone(sr, T._hz(m), beat * 0.45, "bass", rng), at(t0 + off * beat))
        for k in range(8):
            vel = 1.0 + 0.08 * rng.standard_normal()
            T._add(out, 0.35 * vel * hit("hat"), at(t0 + k * beat / 2))
            if k in (0, 4) or (fill and k in (6, 7)):
                T._add(out, 0.9 * vel * hit("kick"), at(t0 + k * beat / 2))
            if k in (2, 6):
                T._add(out, 0.5 * vel * hit("snare"), at(t0 + k * beat / 2))
    out = T._reverb(out, sr, rng, wet=rng.uniform(0.1, 0.3))
    return 0.5 * out / np.max(np.abs(out))


def stuck_loop(x: np.ndarray, seed: int, sr: int = SR) -> np.ndarray:
    """From 30-60% of the take on, a 0.75-3 s chunk of it repeated exactly to the end."""
    rng = np.random.default_rng(seed + 104729)
    at = int(rng.uniform(0.3, 0.6) * len(x))
    seg = int(rng.uniform(0.75, 3.0) * sr)
    y = x.copy()
    y[at:] = np.tile(x[at: at + seg], int(np.ceil((len(x) - at) / seg)))[: len(x) - at]
    return y
