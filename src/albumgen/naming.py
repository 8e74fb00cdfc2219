"""Names an LLM wrote, made safe for every filesystem. Nothing here can leave the folder."""
from __future__ import annotations

import re
import unicodedata

_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
_UNSAFE = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')


def safe_filename(name: str, max_bytes: int = 120, fallback: str = "untitled") -> str:
    """One path component that is valid on Linux, macOS and Windows.

    Removes path separators and control characters, reserved Windows names, and trailing
    dots and spaces (Windows drops them silently, so "a." and "a" would collide); bounds the
    UTF-8 length so the name plus a prefix and extension stays under every filesystem's 255.
    """
    name = unicodedata.normalize("NFC", str(name))
    name = _UNSAFE.sub(" ", name)
    name = re.sub(r"\s+", " ", name).strip().strip(".").strip()
    while len(name.encode("utf-8")) > max_bytes:
        name = name[:-1]
    name = name.rstrip(". ")
    if not name or set(name) <= {"."}:
        name = fallback
    if name.split(".")[0].upper() in _WINDOWS_RESERVED:
        name = f"_{name}"
    return name


def slugify(text: str, max_len: int = 60, fallback: str = "album") -> str:
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-").lower()
    return text[:max_len].strip("-") or fallback
