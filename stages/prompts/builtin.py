"""A deterministic offline composer: a real, varied tracklist without an LLM or a key."""
from __future__ import annotations

import random
import re

from albumgen.hashing import derive_seed

_INSTRUMENTS = ["warm analog synth pads", "plucked acoustic guitar", "felt piano", "punchy drum machine",
                "deep sub bass", "string ensemble", "glassy arpeggiator", "brushed jazz drums",
                "Rhodes electric piano", "muted trumpet", "marimba", "distorted bass guitar",
                "choir-like synth pad", "tabla and hand percussion", "cello", "vintage organ",
                "fingerpicked banjo", "808 kick and hi-hats", "harp glissandos", "saxophone lead"]
_MOODS = ["dreamy", "driving", "melancholic", "euphoric", "tense", "playful", "nostalgic", "serene", "dark",
          "uplifting", "hypnotic", "bittersweet"]
_TEMPOS = [70, 84, 92, 100, 110, 118, 124, 128, 140, 160]
_STRUCTURES = ["slow build to a wide chorus", "steady groove with a breakdown", "call and response between lead and bass",
               "minimal intro that blooms", "loop-based with evolving filters", "verse-chorus form",
               "quiet verses and a loud finale", "two contrasting halves"]
_NOUNS = ["Horizon", "Embers", "Tides", "Neon", "Glass", "Orbit", "Meridian", "Echoes", "Drift", "Aurora",
          "Signal", "Velvet", "Static", "Harbor", "Lantern", "Summit"]
_ADJS = ["Midnight", "Golden", "Silent", "Electric", "Hollow", "Distant", "Crimson", "Paper", "Quiet", "Wild"]
_STOP = {"a", "an", "the", "of", "and", "with", "for", "to", "in", "on", "about", "album", "music", "tracks", "songs"}


def theme_of(brief: str, words: int = 6) -> str:
    """The brief's first clause, a few words long: enough to steer every prompt, short enough
    that the prompts stay distinct (the cleaner drops near-duplicates, a long shared tail makes them)."""
    from .clean import drop_reason  # words like "artwork" would get every prompt dropped

    clause = re.split(r"[,;:.!?()\n]| - ", brief.strip(), maxsplit=1)[0]
    picked = [w for w in clause.split() if drop_reason(f"calm piano {w}") is None]
    while picked and picked[0].lower() in _STOP:  # "an album about ..." -> "about ..." reads badly
        picked.pop(0)
    return " ".join(picked[:words])


def _deck(rng: random.Random, items: list, n: int) -> list:
    """n draws that use every item once before any repeats: variety across the album."""
    out: list = []
    while len(out) < n:
        out += rng.sample(items, len(items))
    return out[:n]


def compose(brief: str, genre: str, tracks: int, seed: int) -> tuple[str, list[str], list[str]]:
    """Album title, track titles and prompts, the same for the same brief, genre and seed."""
    rng = random.Random(derive_seed("builtin", brief, genre, seed))
    album_title = f"{rng.choice(_ADJS)} {rng.choice(_NOUNS)}"
    theme = theme_of(brief)
    names = [f"{a} {n}" for a in _ADJS for n in _NOUNS]
    titles = _deck(rng, names, tracks)
    moods, tempos, structures = _deck(rng, _MOODS, tracks), _deck(rng, _TEMPOS, tracks), _deck(rng, _STRUCTURES, tracks)
    instruments = _deck(rng, _INSTRUMENTS, 2 * tracks)
    prompts = []
    for i in range(tracks):
        a, b = instruments[2 * i], instruments[2 * i + 1]
        if a == b:  # a deck boundary can repeat one; a second distinct one keeps it a duo
            b = _INSTRUMENTS[(_INSTRUMENTS.index(a) + 1) % len(_INSTRUMENTS)]
        about = f", evoking {theme}" if theme else ""
        prompts.append(f"{moods[i]} {genre.lower()} track with {a} and {b}, {tempos[i]} bpm, {structures[i]}{about}")
    return album_title, titles, prompts
