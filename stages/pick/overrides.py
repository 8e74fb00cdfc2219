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

REL = "manifest/picks/overrides.json"
SCHEMA_VERSION = 1


def load(album_dir: Path) -> dict[str, int]:
    path = Path(album_dir) / REL
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text("utf-8"))
        if raw.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"schema version {raw.get('schema_version')!r}, expected {SCHEMA_VERSION}")
        tracks = raw["tracks"]
        if not isinstance(tracks, dict) or not all(isinstance(v, int) and v >= 1 for v in tracks.values()):
            raise ValueError("tracks must map track ids to take numbers >= 1")
        return {str(k): int(v) for k, v in tracks.items()}
    except (OSError, ValueError, KeyError, AttributeError) as e:
        raise InputError(f"{path} is malformed: {e}",
                         "fix it, or delete it to drop every manual pick") from None


def save(album_dir: Path, tracks: dict[str, int]) -> None:
    path = Path(album_dir) / REL
    if not tracks:
        path.unlink(missing_ok=True)
        return
    atomic.write_json(path, {"schema_version": SCHEMA_VERSION, "tracks": dict(sorted(tracks.items()))})
