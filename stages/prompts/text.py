"""Text as it arrives, made comparable: Unicode folded (NFKC), typographic quotes and dashes
made plain, control and format characters turned into spaces. The prompt and lyric cleaners
both start here."""
from __future__ import annotations

import unicodedata

_TYPOGRAPHY = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'", "’": "'", "‚": "'",
                             "–": "-", "—": "-", "‐": "-", "‑": "-", "−": "-", "•": "-", "·": "-"})


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", str(text)).translate(_TYPOGRAPHY)
    # Control and format characters (zero-width spaces, BOMs, bidi marks) become spaces.
    return "".join(" " if unicodedata.category(c)[0] == "C" else c for c in text)
