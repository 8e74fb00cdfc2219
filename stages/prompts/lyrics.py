"""Cleaning lyrics as LLMs and people write them, into what ACE-Step reads: lines of words
under section tags ([verse], [chorus], [bridge], ...). Always on, idempotent like the
prompt cleaner: cleaning cleaned lyrics changes nothing."""
from __future__ import annotations

import re

from .text import normalise

SECTIONS = ("intro", "verse", "pre-chorus", "chorus", "bridge", "outro", "hook", "interlude")
_SECTION_WORDS = {"prechorus": "pre-chorus", "pre chorus": "pre-chorus", "refrain": "chorus", "hook": "hook",
                  **{s: s for s in SECTIONS}}
# A header line: "[Verse 1]", "(Chorus)", "**Bridge:**", "## Outro", "Verse 2 -", "CHORUS"
_HEADER = re.compile(r"^\W*(intro|verse|pre[- ]?chorus|chorus|refrain|bridge|outro|hook|interlude)"
                     r"(?:\s*\d{1,2})?(?:\s*\(?x\d\)?)?\W*$", re.I)
# What a chatbot says around the lyrics, not in them.
_CHATTER = re.compile(r"^(?:sure|certainly|of course|absolutely|here(?:'s| is| are| you go| they are)|below (?:is|are)|i hope|"
                      r"hope you|feel free|let me know|enjoy|note:|title:|song title:|lyrics(?: for)?\b.*:$|"
                      r"this song|these lyrics)\b", re.I)
_REFUSAL = re.compile(r"\b(?:i(?:'m| am) sorry|i can(?:no|')t (?:help|write|assist|create)|i(?:'m| am) (?:not able|unable) "
                      r"to|as an ai\b|i cannot (?:help|write|assist|create)|i won't)", re.I)
_NUMBERING = re.compile(r"^\s*(?:\d{1,3}[.)]\s+|[-*+•]\s+)")


def tag_of(line: str) -> str | None:
    """"[verse]" for a section header line in any common spelling, else None."""
    m = _HEADER.match(line.strip().replace("*", "").replace("#", ""))
    if not m:
        return None
    word = re.sub(r"[- ]+", " ", m.group(1).lower())
    return f"[{_SECTION_WORDS.get(word, _SECTION_WORDS.get(word.replace(' ', ''), word))}]"


def clean_lyrics(text: str | None, max_chars: int = 2000) -> str:
    """Lyrics with tagged sections, or "" when nothing sung is left (a refusal, only chatter).
    Cut at a line boundary to at most max_chars. Iterated to a fixed point, as prompts are."""
    for _ in range(10):
        nxt = _clean_once(text or "", max_chars)
        if nxt == text:
            break
        text = nxt
    return text or ""


def _clean_once(text: str, max_chars: int) -> str:
    if not text or _REFUSAL.search(text[:300]):
        return ""
    lines: list[str] = []
    for raw in text.replace("\\n", "\n").replace("\r", "\n").split("\n"):
        line = re.sub(r"\s+", " ", normalise(raw)).strip()  # per line: normalise makes newlines spaces
        if line.startswith("```") or not line:
            if lines and lines[-1] != "":
                lines.append("")
            continue
        tag = tag_of(line)
        if tag:
            lines += ([""] if lines and lines[-1] != "" else []) + [tag]
            continue
        if _CHATTER.match(line) or line.endswith(":"):  # "Here you go:", "Song for track 2:" introduce, not sing
            continue
        line = _NUMBERING.sub("", line)
        line = re.sub(r"\s+", " ", re.sub(r"[*_`#]+", "", line)).strip().strip('"').strip()
        if re.search(r"[^\W\d_]", line):
            lines.append(line)
    while lines and (lines[-1] == "" or lines[-1].startswith("[")):
        lines.pop()  # a trailing header with nothing under it
    body = "\n".join(lines).strip()
    if not re.search(r"[^\W\d_]", re.sub(r"\[[a-z-]+\]", "", body)):
        return ""
    if not body.startswith("["):  # untagged words: one verse
        body = "[verse]\n" + body
    body = re.sub(r"\n{3,}", "\n\n", body)
    if len(body) > max_chars:
        cut = body[:max_chars + 1]
        body = cut.rsplit("\n", 1)[0] if "\n" in cut else cut[:max_chars]
        body = re.sub(r"(\n\[[a-z-]+\])+\s*$", "", body.rstrip())
    return body
