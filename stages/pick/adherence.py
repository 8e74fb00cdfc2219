"""Prompt adherence for tempo and key: does the take play what the prompt asked for?

MusicGen reads "90 bpm in A minor" loosely (audiocraft #20: about +-5 bpm at best, and the
key often not at all). When the prompt names a tempo or a key, each take's estimate
(albumgen.audio.music, librosa underneath) is compared with it: a soft score that the
picker weighs like its other features, and a label (tempo_mismatch, key_mismatch) when the
take is clearly off. A prompt that names neither adds nothing.
"""
from __future__ import annotations

import math
import re

import numpy as np

from albumgen.audio.music import Music, analyse, key_distance, parse_key

_BPM = re.compile(r"\b(\d{2,3}(?:\.\d+)?)\s*(?:bpm|BPM|beats per minute)\b")
# A note letter (upper case: "a minor chord" is no key request) and a spelled-out mode.
_KEY = re.compile(r"\b([A-G](?:#|♯|b|♭)?)[ -]?(major|minor|maj|min)\b")
# Half or double the asked tempo is the same groove felt differently; it counts as this
# far off (in octaves), so it scores below a take on the asked tempo but far above a wrong one.
OCTAVE_PENALTY = math.log2(1.08)
ZERO_MATCH = math.log2(1.25)  # 25 % off the asked tempo scores 0


def asked(prompt: str | None) -> dict:
    """{"bpm": float|None, "key": "A minor"|None} from a prompt's text."""
    out: dict = {"bpm": None, "key": None}
    if not prompt:
        return out
    m = _BPM.search(prompt)
    if m and 30 <= float(m.group(1)) <= 300:
        out["bpm"] = float(m.group(1))
    k = _KEY.search(prompt)
    if k:
        tonic, mode = parse_key(f"{k.group(1)} {'minor' if k.group(2).startswith('min') else 'major'}")
        out["key"] = f"{['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B'][tonic]} {mode}"
    return out


def tempo_error(measured: float | None, want: float) -> float:
    """How far off, in octaves (log2 of the ratio), octave errors folded with a penalty;
    inf when the take has no steady beat."""
    if not measured:
        return math.inf
    d = abs(math.log2(measured / want))
    return min(d, abs(d - 1) + OCTAVE_PENALTY)


def features(audio: np.ndarray, sr: int, want: dict, music: Music | None = None) -> tuple[dict, dict]:
    """(numeric features for the scorer, what was heard, for the report)."""
    if not (want["bpm"] or want["key"]):
        return {}, {}
    music = music or analyse(audio, sr)
    feats, heard = {}, {"bpm": None if music.bpm is None else round(music.bpm, 2), "key": music.key}
    if want["bpm"]:
        err = tempo_error(music.bpm, want["bpm"])
        feats["tempo_error"] = round(min(err, 1.0), 5)  # finite for JSON: one octave means "no beat"
        feats["tempo_match"] = round(max(0.0, 1.0 - err / ZERO_MATCH), 5)
    if want["key"]:
        d = key_distance(want["key"], music.key)
        feats["key_distance"] = float(d)
        feats["key_match"] = round(max(0.0, 1.0 - d / 4.0), 5)  # 4 steps round the wheel: nothing shared
    return feats, heard
