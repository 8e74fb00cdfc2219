"""What a person sequencing an album listens for: tempo and beats, key, energy.

librosa does the music analysis (onset strength, dynamic-programming beat tracking,
chroma): it is the maintained reference implementation MIR papers compare against, and it
is CPU-only (numba, no CUDA). What is ours is small: the key is the best of the 24 rotated
Krumhansl-Kessler profiles against the take's mean chroma, and the tempo is the slope of
the tracked beats (finer than librosa's frame-quantised tempo estimate, which is 2-3 %
off at 120 bpm on a 23 ms hop).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import numba_cache
from .loudness import integrated_loudness
from .signal import resample, to_mono

RATE = 22050  # beats and chroma need nothing above 11 kHz
HOP = 512  # 23 ms: librosa's default frame for onsets and beats
CHROMA_RATE = 11025  # chroma only needs the notes, C1..C8 fit under 5.5 kHz
CHROMA_FFT = 4096  # 2.7 Hz bins at 11 kHz: a semitone apart even at 50 Hz
NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
# Krumhansl & Kessler's probe-tone ratings (1982), from C.
MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
MIN_BEATS = 8  # fewer tracked beats than this is no grid to trust
# The beat tracker always returns beats, even on a held chord or on noise. A real pulse
# puts onsets on them: mean onset strength on the beats over the mean overall is 7-19 on
# music, drums and clicks, and 1.4-3.8 on noise, a held tone and a drone.
MIN_PULSE = 5.0


@dataclass
class Music:
    seconds: float
    bpm: float | None  # None: no steady pulse found
    beats: np.ndarray  # beat times, s (empty without a steady pulse)
    pulse: float  # onset strength on the beats over the mean: how clear the beat is
    key: str  # e.g. "A minor"
    key_strength: float  # correlation of the chroma with the key's profile, -1..1
    chroma: np.ndarray  # (12,) mean chroma, sums to 1
    energy: float  # onset activity of the loudness-normalised take, ~0..10
    loudness: float  # integrated LUFS as given
    fingerprint: np.ndarray  # timbre (MFCC 1-13 mean and spread) and harmony (chroma): see distance()

    @property
    def camelot(self) -> str:
        return camelot(self.key)

    def summary(self) -> dict:
        """The JSON a record keeps: everything but the beat list rounded for stable diffs."""
        return {"bpm": None if self.bpm is None else round(self.bpm, 2), "pulse": round(self.pulse, 3), "key": self.key,
                "camelot": self.camelot, "key_strength": round(self.key_strength, 4),
                "energy": round(self.energy, 4), "loudness": None if not np.isfinite(self.loudness)
                else round(self.loudness, 3), "seconds": round(self.seconds, 3),
                "chroma": [round(float(c), 4) for c in self.chroma],
                "beats": [round(float(b), 4) for b in self.beats],
                "fingerprint": [round(float(v), 4) for v in self.fingerprint]}


def analyse(audio: np.ndarray, sr: int) -> Music:
    """(frames,) or (frames, channels) float audio at any rate."""
    import librosa

    mono = resample(to_mono(audio).astype(np.float32), sr, RATE)
    loud = integrated_loudness(mono, RATE)
    norm = mono * np.float32(10 ** ((-23.0 - loud) / 20)) if np.isfinite(loud) else mono
    numba_cache.compile_once(_kernels)  # librosa's kernels: numba's cache written by one process at a time
    onset = librosa.onset.onset_strength(y=norm, sr=RATE, hop_length=HOP)
    bpm, beats, pulse = _beats(onset)
    key, strength, chroma = _key(norm)
    return Music(seconds=len(mono) / RATE, bpm=bpm, beats=beats, pulse=pulse, key=key, key_strength=strength,
                 chroma=chroma, energy=float(np.mean(onset)) if onset.size else 0.0, loudness=loud,
                 fingerprint=_fingerprint(norm, chroma))


def _kernels() -> None:
    """Every librosa kernel analyse() calls, on the dtypes it calls them with: two seconds
    of clicks in noise reach the beat tracker, chroma and MFCC (silence would skip them)."""
    import librosa

    rng = np.random.default_rng(0)
    y = (rng.standard_normal(2 * RATE) * 0.05).astype(np.float32)
    y[:: RATE // 4] = 1.0
    onset = librosa.onset.onset_strength(y=y, sr=RATE, hop_length=HOP)
    _beats(onset)
    _, _, chroma = _key(y)
    _fingerprint(y, chroma)


def _fingerprint(mono: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """26 timbre numbers (mean and spread of MFCC 1-13, scaled by 1/10) and the 12 chroma
    shares (scaled by 10), so each half weighs about the same in distance()."""
    import librosa

    if len(mono) < 2048 or not np.any(mono):
        return np.concatenate([np.zeros(26), 10 * chroma])
    mfcc = librosa.feature.mfcc(y=mono, sr=RATE, n_mfcc=14, hop_length=HOP)[1:]
    return np.concatenate([mfcc.mean(axis=1) / 10, mfcc.std(axis=1) / 10, 10 * chroma])


def distance(a, b) -> float:
    """How different two takes sound, from their fingerprints: RMS difference per number.
    The same clip measures under 0.05 (0.04 with other drum velocities); two melodies from
    one generator about 0.4; different keys, tempos or instruments 0.7 and more."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / np.sqrt(len(a)))


def _beats(onset: np.ndarray) -> tuple[float | None, np.ndarray, float]:
    import librosa

    if onset.size < 4 or not np.any(onset):
        return None, np.zeros(0), 0.0
    _, frames = librosa.beat.beat_track(onset_envelope=onset, sr=RATE, hop_length=HOP, trim=False)
    frames = np.asarray(frames, dtype=int)
    pulse = float(onset[frames].mean() / onset.mean()) if frames.size else 0.0
    if len(frames) < MIN_BEATS or pulse < MIN_PULSE:
        return None, np.zeros(0), pulse
    times = librosa.frames_to_time(frames, sr=RATE, hop_length=HOP)
    # The beats' own spacing: a least-squares line through beat index vs time.
    period = float(np.polyfit(np.arange(len(times)), times, 1)[0])
    return (60.0 / period if period > 0 else None), times, pulse


def _key(mono: np.ndarray) -> tuple[str, float, np.ndarray]:
    import librosa

    y = resample(mono, RATE, CHROMA_RATE)
    if len(y) < CHROMA_FFT or not np.any(y):
        return "C major", 0.0, np.full(12, 1 / 12)
    chroma = librosa.feature.chroma_stft(y=y, sr=CHROMA_RATE, n_fft=CHROMA_FFT, hop_length=CHROMA_FFT // 2,
                                         tuning=0.0)
    mean = chroma.mean(axis=1)
    mean = mean / mean.sum() if mean.sum() > 0 else np.full(12, 1 / 12)
    best = max(((_corr(np.roll(profile, tonic), mean), tonic, mode)
                for mode, profile in (("major", MAJOR), ("minor", MINOR)) for tonic in range(12)))
    return f"{NAMES[best[1]]} {best[2]}", float(best[0]), mean


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    d = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / d) if d > 0 else 0.0


def parse_key(key: str) -> tuple[int, str]:
    """"F# minor" -> (6, "minor"). Flats and lower case are accepted: "Bb", "eb minor"."""
    name, _, mode = key.strip().partition(" ")
    name = name[:1].upper() + name[1:].lower().replace("♯", "#").replace("♭", "b")
    flats = {"Db": "C#", "Eb": "D#", "Gb": "F#", "Ab": "G#", "Bb": "A#", "Cb": "B", "Fb": "E", "E#": "F", "B#": "C"}
    name = flats.get(name, name)
    mode = "minor" if mode.strip().lower() in ("minor", "min", "m") else "major"
    return NAMES.index(name), mode


def camelot(key: str) -> str:
    """The Camelot wheel code DJs mix by: C major is 8B, A minor (its relative) 8A; one step
    round the wheel is a fifth, and neighbours mix without a clash."""
    tonic, mode = parse_key(key)
    major = tonic if mode == "major" else (tonic + 3) % 12
    number = (8 + 7 * major - 1) % 12 + 1
    return f"{number}{'B' if mode == 'major' else 'A'}"


def key_distance(a: str, b: str) -> int:
    """Steps on the Camelot wheel: 0 the same key, 1 a neighbour (a fifth, or the relative
    major/minor), more is a clash a listener hears."""
    ca, cb = camelot(a), camelot(b)
    na, nb = int(ca[:-1]), int(cb[:-1])
    steps = min((na - nb) % 12, (nb - na) % 12)
    return steps + (ca[-1] != cb[-1])


def tempo_jump(a: float | None, b: float | None) -> float:
    """How far apart two tempos feel, in octaves (so 60 -> 120 is a jump of 1, like 120 -> 240).
    A track with no pulse joins any tempo freely."""
    if not a or not b:
        return 0.0
    return abs(float(np.log2(b / a)))


def initial_key_tag(key: str) -> str:
    """ID3 TKEY: "A#" or "Am" style (at most 3 characters, m for minor)."""
    tonic, mode = parse_key(key)
    return NAMES[tonic] + ("m" if mode == "minor" else "")
