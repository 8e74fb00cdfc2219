"""The album's trash: outputs a config change made stale wait in manifest/trash/ instead of
being deleted, so a typo (render.takes 16 -> 1, album.tracks 99 -> 9) costs no GPU time once
it is undone, and `albumgen gc` frees the space when the user is sure.

One folder per discarded record, named by its unit key: trash/<key>/note.json holds the
record and the config change that orphaned it, trash/<key>/<path> each file at its path in
the album. A unit planned again with that key (the config changed back) gets its files and
its record back without running; a file someone else now holds is never overwritten.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from . import atomic
from .hashing import sha256_file
from .records import Record

if TYPE_CHECKING:
    from .manifest import Manifest

log = logging.getLogger("albumgen")

NOTE = "note.json"
LAST_CONFIG = "pipeline.json"  # the config of the last build, to say what a change was


def trash_dir(album_dir: Path) -> Path:
    return Path(album_dir) / "manifest" / "trash"


def discard(album_dir: Path, rec: Record, rels: set[str], reason: str) -> list[str]:
    """Move `rels` (outputs of `rec` no record claims any more) to the trash. Returns the
    paths moved. The note is written last: a kill before it leaves files `gc` removes."""
    return _move(album_dir, trash_dir(album_dir) / rec.key, rels, rec.model_dump(mode="json"), reason)


def discard_unclaimed(album_dir: Path, rels: list[str], reason: str) -> list[str]:
    """Move files no record claims, and no sidecar proves, to the trash: one folder per
    sweep (trash/unclaimed-<time>/<path>), with a note that has no record, so they are never
    restored by a build; a person can move one back by hand, and `gc` deletes them."""
    return _move(album_dir, trash_dir(album_dir) / f"unclaimed-{time.time_ns()}", rels, None, reason)


def _move(album_dir: Path, folder: Path, rels, record: dict | None, reason: str) -> list[str]:
    moved = []
    for rel in sorted(rels):
        src = Path(album_dir) / rel
        if not src.is_file():
            continue
        dst = folder / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)  # same filesystem: a rename, no copy of a take's audio
        moved.append(rel)
    if moved:
        atomic.write_json(folder / NOTE, {"record": record, "reason": reason,
                                          "trashed_at": round(time.time(), 3), "files": moved})
    return moved


def restorable(album_dir: Path, stage: str, unit: str, key: str) -> tuple[Record, dict[str, Path]] | None:
    """The trashed record of this unit and key, and where each of its outputs is now, if every
    output is intact (in the trash, or still in place) and nothing else took its place."""
    folder = trash_dir(album_dir) / key
    try:
        note = json.loads((folder / NOTE).read_text("utf-8"))
        rec = Record.model_validate(note["record"])
    except (OSError, ValueError, KeyError, TypeError, ValidationError):
        return None
    if (rec.stage, rec.unit, rec.key) != (stage, unit, key):
        return None
    where: dict[str, Path] = {}
    for rel, ref in rec.outputs.items():
        trashed, live = folder / rel, Path(album_dir) / rel
        if trashed.is_file() and not live.exists() and sha256_file(trashed) == ref.sha256:
            where[rel] = trashed
        elif live.is_file() and sha256_file(live) == ref.sha256:
            where[rel] = live  # shared with a live record, or never moved
        else:
            return None
    return rec, where


def restore(album_dir: Path, rec: Record, where: dict[str, Path]) -> list[Path]:
    """Put a restorable record's files back; returns the outputs, in place, for the commit."""
    outputs = []
    for rel, path in where.items():
        live = Path(album_dir) / rel
        if path != live:
            live.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, live)
        outputs.append(live)
    shutil.rmtree(trash_dir(album_dir) / rec.key, ignore_errors=True)
    return outputs


def usage(album_dir: Path) -> tuple[int, int]:
    """(files, bytes) in the trash, notes excluded."""
    files = size = 0
    for path in trash_dir(album_dir).rglob("*"):
        if path.is_file() and path.name != NOTE:
            files += 1
            size += path.stat().st_size
    return files, size


def empty(manifest: Manifest) -> tuple[int, int]:
    """Delete everything in the album's trash, under the album lock (a build may be taking
    units back from it). Returns (files, bytes) freed."""
    with manifest.lock():
        files, size = usage(manifest.album_dir)
        folder = trash_dir(manifest.album_dir)
        if folder.exists():
            shutil.rmtree(folder)
    return files, size


def last_config(manifest_dir: Path) -> Any:
    """The config the album's last build ran with, None if unknown (never built, or unreadable)."""
    try:
        return json.loads((Path(manifest_dir) / LAST_CONFIG).read_text("utf-8"))
    except (OSError, ValueError):
        return None


def config_change(manifest_dir: Path, config: dict[str, Any]) -> str:
    """What changed since the last build, as "render.takes 4 -> 2", and remember this config
    for the next build. Written into each trash note: the note says why its files left."""
    old = last_config(manifest_dir)
    if old != config:
        atomic.write_json(Path(manifest_dir) / LAST_CONFIG, config)
    if not isinstance(old, dict):
        return "the pipeline changed (the previous build's config is not known)"
    changes = [f"{k} {_show(old_flat.get(k))} -> {_show(new_flat.get(k))}"
               for old_flat, new_flat in [(_flatten(old), _flatten(config))]
               for k in sorted(old_flat.keys() | new_flat.keys()) if old_flat.get(k) != new_flat.get(k)]
    if not changes:
        return "the pipeline's inputs changed (the config did not)"
    return "; ".join(changes[:6]) + (f"; and {len(changes) - 6} more" if len(changes) > 6 else "")


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix.rstrip("."): obj}


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:37] + "..."
