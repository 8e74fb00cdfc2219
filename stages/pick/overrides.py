"""Human picks: manifest/picks/overrides.json, {"schema_version": 1, "tracks": {"t03": 5}}.

Written by `albumgen pick` (under the album lock, atomically) and read by the pick
stage's plan into each unit's key inputs: changing a track's override re-runs that
track's pick, and through its record its mastering, and nothing else.
"""
from __future__ import annotations

import json
from pathlib import Path

from albumgen import atomic
from albumgen.errors import InputError
from albumgen.inputs import MB, read_optional_text

REL = "manifest/picks/overrides.json"
SCHEMA_VERSION = 1


def load(album_dir: Path) -> dict[str, int]:
    path = Path(album_dir) / REL
    fix = "fix it, or delete it to drop every manual pick"
    text = read_optional_text(path, str(path), max_bytes=MB, fix=fix)
    if text is None:
        return {}
    try:
        raw = json.loads(text)
        if not isinstance(raw, dict) or raw.get("schema_version") != SCHEMA_VERSION:
            found = raw.get("schema_version") if isinstance(raw, dict) else type(raw).__name__
            raise ValueError(f"schema version {found!r}, expected {SCHEMA_VERSION}")
        tracks = raw["tracks"]
        # bool is an int to Python, but `true` is not a take number.
        if not isinstance(tracks, dict) or not all(type(v) is int and v >= 1 for v in tracks.values()):
            raise ValueError("tracks must map track ids to take numbers >= 1")
        return {str(k): int(v) for k, v in tracks.items()}
    except (ValueError, KeyError, RecursionError) as e:
        raise InputError(f"{path} is malformed: {' '.join(str(e).split())[:100]}", fix) from None


def save(album_dir: Path, tracks: dict[str, int]) -> None:
    path = Path(album_dir) / REL
    if not tracks:
        path.unlink(missing_ok=True)
        return
    atomic.write_json(path, {"schema_version": SCHEMA_VERSION, "tracks": dict(sorted(tracks.items()))})
