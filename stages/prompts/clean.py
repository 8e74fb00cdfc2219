"""Cleaning prompts as people and chatbots actually write them (minimal; see issue 4)."""
from __future__ import annotations

import re

_NUMBERING = re.compile(r"^\s*(?:[-*+•]|\(?\d{1,3}[.):,]?)\s+")


def parse_text(text: str) -> list[str]:
    """One prompt per non-empty line."""
    return [line for line in text.splitlines() if line.strip()]


def clean_one(text: str, max_chars: int) -> str:
    text = _NUMBERING.sub("", text.strip())
    text = text.strip().strip("\"'“”‘’").strip()
    text = re.sub(r"\s+", " ", text)
    return text[:max_chars].rstrip()


def clean_prompts(raw: list[str], max_chars: int = 300) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for item in raw:
        p = clean_one(str(item), max_chars)
        norm = re.sub(r"[^a-z0-9]+", " ", p.lower()).strip()
        if p and norm not in seen:
            seen.add(norm)
            out.append(p)
    return out
