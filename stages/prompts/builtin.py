"""A deterministic offline composer: a real, varied tracklist without an LLM or a key.

Prompts draw on a palette that fits the genre (instruments, tempo range, moods), so a
synthwave album gets analog synths and gated drums, not tabla and muted trumpet. Every
prompt names an explicit tempo and key, so the picker has something to check a take
against. Titles come from `name_tracks`, which never repeats a word within an album.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass

from albumgen.engine.store.hashing import derive_seed


@dataclass(frozen=True)
class Palette:
    """What a genre sounds like: instruments to pair, a tempo range, moods, forms."""

    words: tuple[str, ...]  # genre names that pick this palette (matched as words in album.genre)
    instruments: tuple[str, ...]
    tempo: tuple[int, int]  # bpm, inclusive
    moods: tuple[str, ...]
    structures: tuple[str, ...] = ("slow build to a wide chorus", "steady groove with a breakdown",
                                   "minimal intro that blooms", "verse-chorus form", "quiet verses and a loud finale",
                                   "two contrasting halves", "call and response between lead and bass")


_PALETTES = (
    Palette(("synthwave", "retrowave", "outrun", "vaporwave", "synthpop"),
            ("warm analog synth pads", "gated reverb drums", "pulsing analog bass", "glassy arpeggiator",
             "bright poly synth lead", "FM electric piano", "LinnDrum-style drum machine", "chorus-drenched guitar"),
            (84, 118), ("nostalgic", "driving", "dreamy", "neon-lit", "bittersweet", "euphoric", "moody", "cruising")),
    Palette(("ambient", "drone", "new age", "meditation", "chillout"),
            ("evolving synth pads", "granular textures", "felt piano", "soft field-recording textures",
             "bowed strings", "shimmering guitar swells", "sub bass drone", "distant bells"),
            (60, 84), ("serene", "weightless", "contemplative", "hazy", "luminous", "melancholic", "glacial", "oceanic")),
    Palette(("lofi", "lo-fi", "hip hop", "hip-hop", "chillhop", "boom bap", "trip hop", "trip-hop"),
            ("dusty sampled drums", "mellow Rhodes", "vinyl-crackled piano", "warm upright bass",
             "jazzy guitar chords", "soft muted horns", "tape-saturated keys", "laid-back snare and shaker"),
            (70, 92), ("laid-back", "nostalgic", "hazy", "cozy", "wistful", "late-night", "rainy", "sleepy")),
    Palette(("techno", "house", "edm", "trance", "electro", "dance", "club", "electronic", "idm", "garage"),
            ("punchy four-on-the-floor kick", "rolling bassline", "acid synth line", "crisp hi-hats",
             "stabbing chord synths", "wide supersaw pads", "percussive plucks", "filtered vocal-less chops"),
            (118, 132), ("driving", "hypnotic", "euphoric", "dark", "pulsing", "uplifting", "minimal", "peak-time")),
    Palette(("drum and bass", "dnb", "jungle", "breakbeat", "dubstep"),
            ("chopped amen breaks", "deep reese bass", "atmospheric pads", "rolling sub bass", "sharp snares",
             "liquid electric piano", "stuttering synth stabs"),
            (160, 174), ("energetic", "dark", "rolling", "urgent", "liquid", "tense", "futuristic", "soulful")),
    Palette(("jazz", "swing", "bebop", "bossa", "bossa nova", "lounge"),
            ("brushed jazz drums", "walking upright bass", "warm jazz piano", "muted trumpet", "tenor saxophone",
             "hollow-body jazz guitar", "vibraphone", "nylon-string guitar"),
            (80, 160), ("smoky", "playful", "late-night", "breezy", "wistful", "swinging", "sultry", "mellow")),
    Palette(("rock", "indie", "punk", "grunge", "alternative", "post-rock", "shoegaze", "surf"),
            ("overdriven electric guitars", "punchy live drums", "driving bass guitar", "jangly clean guitar",
             "wall of fuzz guitars", "tom-heavy drums", "tremolo guitar", "Hammond organ"),
            (92, 150), ("driving", "raw", "anthemic", "brooding", "restless", "soaring", "gritty", "hopeful")),
    Palette(("metal", "doom", "hardcore"),
            ("down-tuned distorted guitars", "double-kick drums", "growling bass", "chugging riffs",
             "soaring lead guitar", "crashing cymbals"),
            (100, 180), ("heavy", "menacing", "relentless", "epic", "dark", "furious", "grinding", "ominous")),
    Palette(("cinematic", "orchestral", "score", "soundtrack", "epic", "trailer", "film"),
            ("sweeping string ensemble", "French horns", "taiko drums", "soft celesta", "grand piano",
             "low brass", "harp arpeggios", "timpani rolls"),
            (70, 130), ("epic", "heroic", "tense", "tender", "mysterious", "triumphant", "somber", "adventurous")),
    Palette(("classical", "baroque", "chamber", "piano", "neoclassical", "minimalist"),
            ("solo grand piano", "string quartet", "cello", "harpsichord", "solo violin", "flute and clarinet",
             "soft celesta"),
            (60, 120), ("tender", "stately", "melancholic", "graceful", "reflective", "bright", "pastoral", "yearning")),
    Palette(("folk", "acoustic", "country", "americana", "bluegrass", "singer-songwriter", "celtic"),
            ("fingerpicked acoustic guitar", "fiddle", "mandolin", "banjo", "upright bass", "soft hand percussion",
             "harmonica", "tin whistle"),
            (76, 128), ("warm", "rustic", "wistful", "gentle", "sunny", "homesick", "lively", "dusty")),
    Palette(("funk", "soul", "disco", "r&b", "rnb", "motown", "groove"),
            ("slap bass", "wah guitar", "tight funk drums", "clavinet", "brass section stabs", "Rhodes",
             "congas", "string swells"),
            (96, 124), ("groovy", "funky", "smooth", "joyful", "sultry", "strutting", "sweaty", "glittering")),
    Palette(("reggae", "dub", "ska", "dancehall"),
            ("offbeat skank guitar", "deep dub bass", "one-drop drums", "spring-reverb melodica", "organ bubble",
             "echoing snare"),
            (70, 100), ("laid-back", "sunny", "hypnotic", "warm", "spacious", "easy", "rootsy", "smoky")),
    Palette(("latin", "salsa", "cumbia", "samba", "flamenco", "tango", "afrobeat", "world"),
            ("congas and timbales", "nylon-string guitar", "piano montuno", "brass section", "accordion",
             "shekere and hand percussion", "marimba"),
            (90, 130), ("festive", "passionate", "sunny", "fiery", "swaying", "joyful", "sultry", "nocturnal")),
)
_DEFAULT = Palette((), ("warm synth pads", "felt piano", "punchy drum machine", "deep bass", "string ensemble",
                        "plucked acoustic guitar", "glassy arpeggiator", "soft percussion"),
                   (76, 128), ("dreamy", "driving", "melancholic", "uplifting", "playful", "serene", "hypnotic", "nostalgic"))

_KEYS = ("C major", "G major", "D major", "A major", "E major", "F major", "B-flat major", "E-flat major",
         "A minor", "E minor", "D minor", "B minor", "F-sharp minor", "C minor", "G minor", "F minor")

# Title words by feeling; a title is one or two of them, and no word is used twice in an album.
_ADJS = ("Midnight", "Golden", "Silent", "Electric", "Hollow", "Distant", "Crimson", "Paper", "Quiet", "Wild",
         "Slow", "Velvet", "Amber", "Pale", "Northern", "Last", "Little", "Burning", "Frozen", "Hidden", "Lunar",
         "Restless", "Sunday", "Broken", "Open", "Silver", "Sleeping", "Faded", "Glass", "Tender")
_NOUNS = ("Horizon", "Embers", "Tides", "Neon", "Orbit", "Meridian", "Echoes", "Drift", "Aurora", "Signal",
          "Static", "Harbor", "Lantern", "Summit", "Rain", "Highway", "Garden", "Lighthouse", "Satellite", "Ferns",
          "Windows", "Rooftops", "Comet", "Reverie", "Monsoon", "Tide Pools", "Cathedral", "Wires", "Canyon",
          "Afterglow", "Streetlights", "Constellations", "Driftwood", "Harvest", "Skyline", "Undertow", "Mirage")
_ONE_WORD = ("Solace", "Halcyon", "Vesper", "Nocturne", "Kaleidoscope", "Undertow", "Fathom", "Lullaby",
             "Wanderlust", "Gossamer", "Ephemera", "Sonder", "Parallax", "Daybreak", "Homecoming", "Overpass")
_STOP = {"a", "an", "the", "of", "and", "with", "for", "to", "in", "on", "about", "album", "music", "tracks", "songs"}


def palette_for(genre: str) -> Palette:
    """The palette whose genre words appear in `genre` (first match in table order), or a general one."""
    text = f" {re.sub(r'[^a-z0-9&]+', ' ', genre.lower())} "
    for pal in _PALETTES:
        if any(f" {w.replace('-', ' ')} " in text for w in pal.words):
            return pal
    return _DEFAULT


def theme_of(brief: str, words: int = 6) -> str:
    """The brief's first clause, a few words long: enough to steer every prompt, short enough
    that the prompts stay distinct (the cleaner drops near-duplicates, a long shared tail makes them)."""
    from .clean import drop_reason  # words like "artwork" would get every prompt dropped

    clause = re.split(r"[,;:.!?()\n]| - ", brief.strip(), maxsplit=1)[0]
    picked = [w for w in clause.split() if drop_reason(f"calm piano {w}") is None]
    while picked and picked[0].lower() in _STOP:  # "an album about ..." -> "about ..." reads badly
        picked.pop(0)
    return " ".join(picked[:words])


def _deck(rng: random.Random, items, n: int) -> list:
    """n draws that use every item once before any repeats: variety across the album."""
    out: list = []
    while len(out) < n:
        out += rng.sample(list(items), len(items))
    return out[:n]


def _tempos(rng: random.Random, lo: int, hi: int, n: int) -> list[int]:
    """n tempos from the palette's range, distinct while the range allows (even bpm: what people write)."""
    return _deck(rng, range(lo + lo % 2, hi + 1, 2), n)


def _words(title: str) -> set[str]:
    return {w.casefold() for w in re.findall(r"[\w'-]+", title)}


class _Namer:
    """Draws titles of one or two words from shuffled pools, never reusing a word in `used`
    (shared between namers, so a whole album stays free of repeats)."""

    def __init__(self, rng: random.Random, used: set[str]):
        self.rng, self.used = rng, used
        self.adjs, self.nouns, self.ones = (rng.sample(pool, len(pool)) for pool in (_ADJS, _NOUNS, _ONE_WORD))

    def _take(self, pool: list[str]) -> str | None:
        for i, word in enumerate(pool):
            if not _words(word) & self.used:
                self.used.update(_words(word))
                return pool.pop(i)
        return None

    def title(self) -> str | None:
        if self.rng.random() < 0.25 and (word := self._take(self.ones)):
            return word
        adj, noun = self._take(self.adjs), self._take(self.nouns)
        if adj and noun:
            return f"{adj} {noun}"
        return noun or adj or self._take(self.ones)


def name_tracks(count: int, seed: int, taken: set[str] | None = None) -> tuple[str, list[str]]:
    """An album title and `count` track titles, no word used twice across all of them (nor any
    word in `taken`). Deterministic for a seed. Past what the word pools allow, titles gain
    a roman-numeral part ("Solace II") rather than repeating a word's title outright."""
    namer = _Namer(random.Random(seed), {w.casefold() for w in (taken or set())})
    album = namer.title() or "Untitled"
    titles: list[str] = []
    while len(titles) < count and (title := namer.title()):
        titles.append(title)
    return album, _numbered(titles, count, album)


def title_each(prompts: list[str], seed: int, taken: set[str]) -> list[str]:
    """A title per prompt, each drawn with a seed of its own prompt, so editing one prompt
    renames that track only (a rename re-masters a track); words already used by earlier
    titles or in `taken` are skipped, which keeps the album free of repeats."""
    used = {w.casefold() for w in taken}
    titles: list[str] = []
    for prompt in prompts:
        title = _Namer(random.Random(derive_seed("title", seed, prompt)), used).title()
        if title is None:
            break
        titles.append(title)
    return _numbered(titles, len(prompts), "Untitled")


def _numbered(titles: list[str], count: int, fallback: str) -> list[str]:
    fresh = len(titles)  # pools spent on a very long album: later tracks become second movements
    return titles + [f"{titles[i % fresh] if fresh else fallback} {_roman(2 + i // max(fresh, 1))}"
                     for i in range(count - fresh)]


def _roman(n: int) -> str:
    out = ""
    for value, digits in ((10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= value:
            out, n = out + digits, n - value
    return out


def compose(brief: str, genre: str, tracks: int, seed: int) -> tuple[str, list[str], list[str]]:
    """Album title, track titles and prompts, the same for the same brief, genre and seed."""
    rng = random.Random(derive_seed("builtin", brief, genre, seed))
    pal = palette_for(genre)
    theme = theme_of(brief)
    album_title, titles = name_tracks(tracks, rng.randrange(2**32), taken=_words(genre))
    moods, structures = _deck(rng, pal.moods, tracks), _deck(rng, pal.structures, tracks)
    keys, tempos = _deck(rng, _KEYS, tracks), _tempos(rng, *pal.tempo, tracks)
    instruments = _deck(rng, pal.instruments, 2 * tracks)
    prompts = []
    for i in range(tracks):
        a, b = instruments[2 * i], instruments[2 * i + 1]
        if a == b:  # a deck boundary can repeat one; a second distinct one keeps it a duo
            b = pal.instruments[(pal.instruments.index(a) + 1) % len(pal.instruments)]
        about = f", evoking {theme}" if theme else ""
        prompts.append(f"{moods[i]} {genre.lower()} track with {a} and {b}, {tempos[i]} bpm, "
                       f"in {keys[i]}, {structures[i]}{about}")
    return album_title, titles, prompts
