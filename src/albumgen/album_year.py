"""album.year when the pipeline leaves it out: the year of the album's first build, kept.

The year is in every track's tags, so in master's unit keys: read afresh from the clock,
an unpinned album would re-master every track after New Year. It is resolved once, at
the first build, and kept in manifest/year.json (written atomically under the album lock,
beside the records rather than in them, so the record store keeps its format).
"""
from __future__ import annotations

import datetime
import json
from pathlib import Path

from .engine.store import atomic
from .errors import InputError
from .inputs import read_optional_text

REL = "manifest/year.json"


def today() -> datetime.date:
    """The clock, in one place: the tests move it."""
    return datetime.date.today()


def album_year(config, album_dir: Path) -> int:
    """album.year if the pipeline sets it, else the kept year, else (before the first build)
    this year."""
    if config.album.year is not None:
        return config.album.year
    kept = _kept(Path(album_dir))
    return kept if kept is not None else today().year


def pin(config, album_dir: Path) -> None:
    """Keep the year at a build's start, if the pipeline sets none and none is kept yet. An
    album mastered before the year was kept takes the year its album.json says."""
    album_dir = Path(album_dir)
    if config.album.year is not None or _kept(album_dir) is not None:
        return
    atomic.write_json(album_dir / REL, {"year": _from_album_json(album_dir) or today().year})


def _kept(album_dir: Path) -> int | None:
    path = album_dir / REL
    fix = 'write {"year": 2026} in it, delete it to take this year, or set album.year'
    text = read_optional_text(path, str(path), max_bytes=4096, fix=fix)
    if text is None:
        return None
    try:
        year = json.loads(text)["year"]
    except (ValueError, KeyError, TypeError):
        raise InputError(f"{path} is malformed", fix) from None
    if type(year) is not int or not 1900 <= year <= 2999:
        raise InputError(f"{path}: year must be a number from 1900 to 2999, got {year!r}", fix)
    return year


def _from_album_json(album_dir: Path) -> int | None:
    if not (album_dir / "album.json").is_file():  # not a FIFO, not a folder
        return None
    try:
        year = json.loads((album_dir / "album.json").read_text("utf-8")).get("year")
    except (OSError, ValueError, AttributeError):
        return None
    return year if type(year) is int and 1900 <= year <= 2999 else None
