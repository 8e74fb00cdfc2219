"""A deterministic offline composer: a real, varied tracklist without an LLM or a key."""
from __future__ import annotations

import random

from albumgen.hashing import derive_seed

_INSTRUMENTS = ["warm analog synth pads", "plucked acoustic guitar", "felt piano", "punchy drum machine",
                "deep sub bass", "string ensemble", "glassy arpeggiator", "brushed jazz drums",
                "Rhodes electric piano", "muted trumpet", "marimba", "distorted bass guitar",
                "choir-like synth pad", "tabla and hand percussion", "cello", "vintage organ"]
_MOODS = ["dreamy", "driving", "melancholic", "euphoric", "tense", "playful", "nostalgic", "serene", "dark", "uplifting"]
_TEMPOS = [70, 84, 92, 100, 110, 118, 124, 128, 140, 160]
_STRUCTURES = ["slow build to a wide chorus", "steady groove with a breakdown", "call and response between lead and bass",
               "minimal intro that blooms", "loop-based with evolving filters", "verse-chorus form"]
_NOUNS = ["Horizon", "Embers", "Tides", "Neon", "Glass", "Orbit", "Meridian", "Echoes", "Drift", "Aurora",
          "Signal", "Velvet", "Static", "Harbor", "Lantern", "Summit"]
_ADJS = ["Midnight", "Golden", "Silent", "Electric", "Hollow", "Distant", "Crimson", "Paper", "Quiet", "Wild"]


def compose(brief: str, genre: str, tracks: int, seed: int) -> tuple[str, list[str], list[str]]:
    """Album title, track titles and prompts, the same for the same brief, genre and seed."""
    rng = random.Random(derive_seed("builtin", brief, genre, seed))
    album_title = f"{rng.choice(_ADJS)} {rng.choice(_NOUNS)}"
    theme = brief.strip().rstrip(".") if brief.strip() else f"an album of {genre.lower()}"
    titles, prompts, used = [], [], set()
    for _ in range(tracks):
        while True:
            title = f"{rng.choice(_ADJS)} {rng.choice(_NOUNS)}"
            if title not in used or len(used) >= len(_ADJS) * len(_NOUNS):
                break
        used.add(title)
        a, b = rng.sample(_INSTRUMENTS, 2)
        prompts.append(f"{rng.choice(_MOODS)} {genre.lower()} track, {a} and {b}, {rng.choice(_TEMPOS)} bpm, "
                       f"{rng.choice(_STRUCTURES)}, inspired by {theme}")
        titles.append(title)
    return album_title, titles, prompts
