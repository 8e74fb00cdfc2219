"""The tempo, key and metre a prompt asks for ("96 bpm, in A minor, 3/4"), for backends
that take them as numbers (ACE-Step's `bpm`, `keyscale` and `timesignature`). Read the way the picker reads a prompt, so
the model is asked for what each take is later checked against."""
from __future__ import annotations

import re

from .audio.music import NAMES, parse_key

_BPM = re.compile(r"\b(\d{2,3}(?:\.\d+)?)\s*(?:bpm|BPM|beats per minute)\b")
# A note letter (upper case: "a minor chord" is no key request) and a spelled-out mode.
_KEY = re.compile(r"\b([A-G](?:#|♯|b|♭)?)[ -]?(major|minor|maj|min)\b")
# "3/4", "6/8 time", "in 3", "waltz": ACE-Step names a metre by its beats a bar (2, 3, 4, 6).
_METER = re.compile(r"(?<![\d/])([2346])\s*/\s*(4|8)(?![\d/])")
_METER_WORDS = {"waltz": "3", "march": "2", "jig": "6"}


def asked_tempo(prompt: str | None) -> int | None:
    """Whole beats per minute a prompt names (30 to 300), or None."""
    m = _BPM.search(prompt or "")
    if m and 30 <= float(m.group(1)) <= 300:
        return int(round(float(m.group(1))))
    return None


def asked_key(prompt: str | None) -> str | None:
    """"A minor", "F# major": the key a prompt names, sharps for flats, or None."""
    k = _KEY.search(prompt or "")
    if not k:
        return None
    tonic, mode = parse_key(f"{k.group(1)} {'minor' if k.group(2).startswith('min') else 'major'}")
    return f"{NAMES[tonic]} {mode}"


def asked_meter(prompt: str | None) -> str | None:
    """"3" for a prompt in 3/4 (or a waltz), "6" for 6/8, "4" for 4/4: the beats a bar a
    prompt names, as ACE-Step's `timesignature` takes them, or None. A fraction that is
    not a metre ("2/3 of the way") is not read as one: only N/4 and 6/8."""
    text = prompt or ""
    for m in _METER.finditer(text):
        beats, unit = m.groups()
        if (unit == "4" and beats != "6") or (unit == "8" and beats == "6"):
            return beats
    words = re.findall(r"[a-z]+", text.lower())
    return next((_METER_WORDS[w] for w in words if w in _METER_WORDS), None)
