"""Names an LLM wrote, made safe for every filesystem. Nothing here can leave the folder."""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from .errors import StageError

_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
                     *(f"{p}{d}" for p in ("COM", "LPT") for d in [*"123456789", "¹", "²", "³"])}
# Path separators, characters Windows forbids, and controls. Unicode format characters
# (bidi overrides that make "gpj.exe" display as "exe.jpg", zero-width spaces) go too,
# except the joiner and variation selector that emoji sequences are built from.
_UNSAFE = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f-\x9f]')
_KEEP_FORMAT = {"\u200d", "\ufe0f"}
# A cut must not leave a joiner or a modifier dangling without what it joins or modifies.
_DANGLING = {"Mn", "Me", "Mc", "Sk", "Cf"}


def _drop_invisible(name: str) -> str:
    return "".join(ch for ch in name
                   if ch in _KEEP_FORMAT or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))


def _truncate_utf8(name: str, max_bytes: int) -> str:
    if len(name.encode("utf-8")) <= max_bytes:
        return name
    name = name.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")
    while name and (unicodedata.category(name[-1]) in _DANGLING or name[-1] in _KEEP_FORMAT
                    or 0x1F3FB <= ord(name[-1]) <= 0x1F3FF):  # skin-tone modifiers
        name = name[:-1]
    return name


def safe_filename(name: str, max_bytes: int = 120, fallback: str = "untitled", standalone: bool = True) -> str:
    """One path component that is valid on Linux, macOS and Windows.

    Removes path separators and control characters, reserved Windows names, and trailing
    dots and spaces (Windows drops them silently, so "a." and "a" would collide); bounds the
    UTF-8 length (120 bytes leaves room for "NN - " and an extension under every
    filesystem's 255, and NTFS counts UTF-16 units, never more than UTF-8 bytes).
    """
    name = unicodedata.normalize("NFC", str(name))
    name = _drop_invisible(_UNSAFE.sub(" ", name))
    name = re.sub(r"\s+", " ", name).strip(" .")
    name = _truncate_utf8(name, max_bytes).rstrip(" .")
    if not name:
        name = fallback
    # Windows reserves "CON" and "con.txt" alike, whatever follows the first dot.
    if standalone and name.split(".")[0].rstrip(" ").upper() in _WINDOWS_RESERVED:
        name = f"_{name}"
    return name


def unique_names(names: list[str]) -> list[str]:
    """Number repeats " (2)", " (3)"... Compared case-folded, because macOS and Windows
    folders are case-insensitive: "Intro" and "intro" would overwrite each other there."""
    seen: set[str] = set()
    out = []
    for name in names:
        stem, dot, ext = name.rpartition(".") if "." in name else (name, "", "")
        candidate, i = name, 1
        while candidate.casefold() in seen:
            i += 1
            candidate = f"{stem} ({i}){dot}{ext}"
        seen.add(candidate.casefold())
        out.append(candidate)
    return out


def track_filename(n: int, total: int, title: str, ext: str) -> str:
    """`NN - Title.ext`; the number is as wide as the largest, so names sort in order."""
    width = max(2, len(str(total)))
    return f"{n:0{width}d} - {safe_filename(title, standalone=False)}.{ext}"


def inside(folder: Path, name: str) -> Path:
    """`folder / name`, refusing anything that would resolve outside `folder`."""
    folder = Path(folder).resolve()
    path = (folder / name).resolve()
    if path.parent != folder:
        raise StageError(f"refusing to write {name!r} outside {folder}", "this is a bug in albumgen; please report it")
    return path


def slugify(text: str, max_len: int = 60, fallback: str = "album") -> str:
    """An ASCII folder name: "Émigré Café" -> "emigre-cafe". A text with no ASCII letter or
    digit left ("夜の街", "🎹") gives `fallback`; "" lets the caller try another name."""
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-").lower()
    return _not_reserved(text[:max_len].strip("-") or fallback)


def slugify_unicode(text: str, max_len: int = 60, fallback: str = "album") -> str:
    """A folder name that keeps letters of every script: "夜の街" -> "夜の街", "東京 Nights" ->
    "東京-nights". For names the ASCII `slugify` leaves nothing of; never cut mid-character."""
    text = unicodedata.normalize("NFKC", str(text))
    text = re.sub(r"[\W_]+", "-", text).strip("-").lower()
    slug = _truncate_utf8(text[:max_len], 100).strip("-")
    return _not_reserved(slug if slug and safe_filename(slug, 100, standalone=False) == slug else fallback)


def _not_reserved(slug: str) -> str:
    # A folder named "con" or "lpt1" cannot be opened on Windows.
    return f"{slug}-album" if slug.upper() in _WINDOWS_RESERVED else slug
