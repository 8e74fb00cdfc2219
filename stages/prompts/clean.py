"""Cleaning prompts as people and chatbots actually write them. Always on.

Idempotent by construction: `clean_one` iterates its rewrite step to a fixed point and the
list step only removes items, so cleaning a cleaned list changes nothing. The property
tests in tests/test_prompts_clean.py hold it to that.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from albumgen.sizes import counted

from .lyrics import clean_lyrics
from .parse import Candidate
from .text import normalise

# Reasons that count things: said as "1 duplicate", "2 duplicates" (the others read as labels).
_NOUNS = {"duplicates": "duplicate", "near-duplicates": "near-duplicate"}
_MARKER = re.compile(r"^\s*(?:[-*+>▪►✓✔→]+\s*|\(?\d{1,3}\s*[.):\],]\s*|#\d+\s*[.:)]?\s*|"
                     r"track\s*\d+\s*[:.)-]\s*|prompt\s*\d*\s*[:.)-]\s*)", re.I)
_IMPERATIVE = re.compile(r"^(?:please\s+)?(?:create|compose|generate|produce|make|write|craft|design|imagine)\s+"
                         r"(?:me\s+)?(?:(?:a|an|some|the)\s+)?(?=\S+\s+\S+\s+\S)", re.I)
_VOCODER = re.compile(r"\b(?:vocoder|vocoded|robotic|talk-?box|auto-?tuned?)\s+(?:vocals?|voices?|singing)\b", re.I)
_VOCALS = re.compile(r"\b(?:(?:female|male|soulful|breathy|raspy|operatic|gospel|lead|backing|spoken|whispered|"
                     r"children'?s|sung)\s+)*(?:vocals?|vocalists?|singers?|singing|rappers?|rapping|"
                     r"vocal\s+(?:lines?|hooks?|chops?|samples?|harmonies|melod(?:y|ies)))\b", re.I)
_LYRICS_ABOUT = re.compile(r"\b(?:with\s+|and\s+)?(?:[a-z]+\s+)?lyrics\s+(?:about|of|on)\s+", re.I)
_LYRICS = re.compile(r"\blyric|\bsing(?:s|ing)?\s+(?:about|along)|\bkaraoke\b|\bsung\b|\ba\s*cappella\b", re.I)
_NOT_AUDIO = re.compile(r"art\s*work|album\s+art|cover\s+(?:art|image|design|photo)|album\s+cover|\bthe\s+cover\b|"
                        r"music\s+video|\bvideos?\b(?!\s*games?)|visuali[sz]er|\bvisuals\b|\blogos?\b|\bmerch|"
                        r"\bposters?\b|\bphoto(?:s|graphs?)?\b|thumbnail|liner\s+notes|social\s+media|"
                        r"instagram|tiktok|press\s+release|\bmarketing\b|\bfont\b", re.I)


@dataclass
class Cleaned:
    kept: list[Candidate]
    dropped: Counter = field(default_factory=Counter)  # reason -> how many

    def why(self) -> str:
        return ", ".join(counted(n, _NOUNS[reason]) if reason in _NOUNS else f"{n} {reason}"
                         for reason, n in sorted(self.dropped.items())) or "none dropped"


def strip_markdown(text: str) -> str:
    text = re.sub(r"`{3,}(?:json5?|ya?ml|csv|te?xt|markdown|md|plaintext)?(?!\w)", " ", text, flags=re.I)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links keep their text
    text = re.sub(r"<[^>\n]{0,80}>", " ", text)
    text = re.sub(r"^\s*#+\s*", "", text)
    text = text.replace("`", "").replace("*", "").replace("~~", "")
    return re.sub(r"(?<!\w)_+|_+(?!\w)", "", text)


def _step(text: str, max_chars: int, vocals: bool = False) -> str:
    text = strip_markdown(normalise(text))
    text = re.sub(r"\s+", " ", text).strip()
    while True:  # nested decorations: '1. "- **Prompt**"'
        before = text
        text = _MARKER.sub("", text).strip().strip("\"'").strip()
        text = re.sub(r"^[\s,;:.!?-]+|[\s,;:-]+$", "", text)
        if text == before:
            break
    text = _IMPERATIVE.sub("", text)
    if not vocals:  # a model that sings (album.vocals: lyrics) keeps the voice a prompt asks for
        text = _VOCODER.sub("vocoder synth lead", text)
        text = _VOCALS.sub("synth lead", text)
        if not re.match(r"^(?:\w+\s+)?lyrics\b", text, re.I):  # a lyrics-only ask stays, to be dropped
            text = _LYRICS_ABOUT.sub("evoking ", text)
    text = re.sub(r"\s+", " ", text).strip()
    if text:
        text = text[0].upper() + text[1:]
    if len(text) > max_chars:
        cut = text[: max_chars + 1]
        text = cut.rsplit(" ", 1)[0] if " " in cut.strip() else text[:max_chars]
        text = re.sub(r"[\s,;:-]+$", "", text[:max_chars])
    return text


def clean_one(text: str, max_chars: int = 300, vocals: bool = False) -> str:
    """One prompt, decorations and (unless `vocals`) vocal asks gone, capped; a fixed point of itself."""
    for _ in range(20):
        nxt = _step(text, max_chars, vocals)
        if nxt == text:
            break
        text = nxt
    return text


def clean_title(text: str | None, max_chars: int = 80) -> str:
    """A track or album title: decorations gone, no prompt rewriting."""
    for _ in range(10):
        nxt = _title_step(text or "", max_chars)
        if nxt == text:
            break
        text = nxt
    return text or ""


def _title_step(text: str, max_chars: int) -> str:
    text = re.sub(r"\s+", " ", strip_markdown(normalise(text))).strip()
    text = re.sub(r"^(?:track|song)\s*\d+\s*[:.)-]\s*", "", text, flags=re.I)
    text = _MARKER.sub("", text).strip().strip("\"'").strip(" -:,;")
    return text[:max_chars].rstrip()


def drop_reason(prompt: str, vocals: bool = False) -> str | None:
    """Why a cleaned prompt cannot become a track, or None when it can."""
    if len(re.findall(r"[^\W\d_]", prompt)) < 3:
        return "empty"
    if _NOT_AUDIO.search(prompt):
        return "not audio (artwork, cover, video...)"
    if not vocals and _LYRICS.search(prompt):
        return "lyrics (MusicGen makes instrumentals)"
    return None


def dedupe_key(prompt: str) -> str:
    return re.sub(r"[\W_]+", " ", prompt.casefold()).strip()


def near_duplicate(a: str, b: str) -> bool:
    """Same prompt reworded slightly: most words shared, or nearly the same characters."""
    wa, wb = set(a.split()), set(b.split())
    jaccard = len(wa & wb) / max(1, len(wa | wb))
    if jaccard >= 0.8 or (jaccard >= 0.7 and (wa <= wb or wb <= wa)):  # the same ask, a word or two added
        return True
    return jaccard >= 0.5 and SequenceMatcher(None, a, b).ratio() >= 0.9


def clean_candidates(raw: list[Candidate], max_chars: int = 300, limit: int | None = None, vocals: bool = False,
                     max_lyrics: int = 2000) -> Cleaned:
    """Cleaned candidates in order. With `limit`, stop once that many are kept: the first
    `limit` kept are the same either way (a candidate is only compared with earlier ones),
    and a reply of thousands of prompts costs what the album needs, not n squared."""
    out = Cleaned(kept=[])
    keys: dict[str | None, list[str]] = {}  # by melody: one prompt over two melodies is two tracks
    for cand in raw:
        prompt = clean_one(cand.prompt, max_chars, vocals)
        reason = drop_reason(prompt, vocals)
        key = dedupe_key(prompt)
        same = keys.setdefault(cand.melody, [])
        if reason is None and key in same:
            reason = "duplicates"
        if reason is None and any(near_duplicate(key, k) for k in same):
            reason = "near-duplicates"
        if reason:
            out.dropped[reason] += 1
            continue
        same.append(key)
        lyrics = clean_lyrics(cand.lyrics, max_lyrics) or None if vocals else None  # instrumental: none sung
        out.kept.append(Candidate(prompt=prompt, title=clean_title(cand.title) or None, melody=cand.melody,
                                  lyrics=lyrics))
        if limit is not None and len(out.kept) >= limit:
            break
    return out


def clean_prompts(raw: list[str], max_chars: int = 300) -> list[str]:
    return [c.prompt for c in clean_candidates([Candidate(str(r)) for r in raw], max_chars).kept]
