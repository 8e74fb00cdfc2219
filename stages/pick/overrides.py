"""Human picks: manifest/picks/overrides.json,
{"schema_version": 1, "tracks": {"t03": 5}, "more_takes": {"t03": 2}}.

`tracks`: the take a person chose. `more_takes`: how many takes a person asked for beyond
render.takes, in total (optional; older files have none). Written by `albumgen pick` and
`albumgen review` (under the album lock, atomically) and read by the pick stage's plan into
each unit's key inputs: changing a track's entry re-runs that track's pick, and through its
record its render and mastering, and nothing else.
"""
from __future__ import annotations

import json
from pathlib import Path

from albumgen.engine.store import atomic
from albumgen.errors import InputError
from albumgen.inputs import MB, read_optional_text

REL = "manifest/picks/overrides.json"
SCHEMA_VERSION = 1


def load(album_dir: Path) -> dict[str, int]:
    """Chosen takes: track id -> take number."""
    return _read(album_dir)["tracks"]


def load_more(album_dir: Path) -> dict[str, int]:
    """Takes asked for by hand: track id -> how many beyond render.takes, in total."""
    return _read(album_dir)["more_takes"]


def _read(album_dir: Path) -> dict[str, dict[str, int]]:
    path = Path(album_dir) / REL
    fix = "fix it, or delete it to drop every manual pick"
    text = read_optional_text(path, str(path), max_bytes=MB, fix=fix)
    if text is None:
        return {"tracks": {}, "more_takes": {}}
    try:
        raw = json.loads(text)
        if not isinstance(raw, dict) or raw.get("schema_version") != SCHEMA_VERSION:
            found = raw.get("schema_version") if isinstance(raw, dict) else type(raw).__name__
            raise ValueError(f"schema version {found!r}, expected {SCHEMA_VERSION}")
        out = {}
        for field, what, minimum in (("tracks", "take numbers", 1), ("more_takes", "counts", 0)):
            value = raw["tracks"] if field == "tracks" else raw.get(field, {})
            # bool is an int to Python, but `true` is not a take number.
            if not isinstance(value, dict) or not all(type(v) is int and v >= minimum for v in value.values()):
                raise ValueError(f"{field} must map track ids to {what} >= {minimum}")
            out[field] = {str(k): int(v) for k, v in value.items()}
        return out
    except (ValueError, KeyError, RecursionError) as e:
        raise InputError(f"{path} is malformed: {' '.join(str(e).split())[:100]}", fix) from None


def save(album_dir: Path, tracks: dict[str, int], more_takes: dict[str, int] | None = None) -> None:
    """Write both maps; `more_takes=None` keeps the ones on disk (a choice never drops a request)."""
    path = Path(album_dir) / REL
    if more_takes is None:
        try:
            more_takes = load_more(album_dir)
        except InputError:  # a malformed file is being replaced as a whole: nothing to keep
            more_takes = {}
    more_takes = {k: v for k, v in more_takes.items() if v}
    if not tracks and not more_takes:
        path.unlink(missing_ok=True)
        return
    data: dict = {"schema_version": SCHEMA_VERSION, "tracks": dict(sorted(tracks.items()))}
    if more_takes:  # absent when unused, so files written before it existed read the same
        data["more_takes"] = dict(sorted(more_takes.items()))
    atomic.write_json(path, data)
