"""The tempo and key a prompt asks for ("96 bpm, in A minor"), for backends that take them
as numbers (ACE-Step's `bpm` and `keyscale`). Read the way the picker reads a prompt, so
the model is asked for what each take is later checked against."""
from __future__ import annotations

import re

from .audio.music import NAMES, parse_key

_BPM = re.compile(r"\b(\d{2,3}(?:\.\d+)?)\s*(?:bpm|BPM|beats per minute)\b")
# A note letter (upper case: "a minor chord" is no key request) and a spelled-out mode.
_KEY = re.compile(r"\b([A-G](?:#|♯|b|♭)?)[ -]?(major|minor|maj|min)\b")


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
