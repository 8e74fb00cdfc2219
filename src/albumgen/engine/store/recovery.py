"""Records rebuilt from the artifacts on disk, so a damaged manifest costs no GPU time.

A stage that makes expensive or stateful units (takes; the tracklist, which may have cost
an LLM call; picks, which carry the retry rounds) writes a JSON sidecar beside its outputs
with a block saying which unit it finished: stage, unit id, unit key, the sha256 of every
other output and of the sidecar's own body. When the record store has no valid record for
a pending unit (manifest.json truncated or edited by hand, the store deleted, or a kill
between `os.replace` and the journal append), the engine (engine/commit.py) looks for a sidecar naming
that unit and key; if every hash still matches, the unit is committed as it was instead of run
again. A sidecar whose hashes do not match is ignored, and the unit simply runs.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import atomic
from .hashing import sha256_file, sha256_json

if TYPE_CHECKING:
    from ...stage import Unit

BLOCK = "_unit"


def write_sidecar(path: Path, body: dict, stage: str, unit: Unit, files: list[Path], album_dir: Path,
                  record_keys: list[str] | None = None) -> dict[str, str]:
    """Write `body` to `path` with the recovery block. `files` are the unit's other outputs,
    already in place. `record_keys`: the body's keys that form the record's data (default:
    all of it). Returns the hashes of `files` by album-relative path, for the commit."""
    hashes = {Path(f).relative_to(album_dir).as_posix(): sha256_file(f) for f in files}
    block: dict[str, Any] = {"stage": stage, "id": unit.id, "key": unit.key, "files": hashes,
                             "body": sha256_json(body)}
    if record_keys is not None:
        block["record_keys"] = sorted(record_keys)
    atomic.write_json(path, {**body, BLOCK: block})
    return hashes


def read_body(path: Path) -> dict:
    """A sidecar's body without the recovery block: what the stage wrote."""
    obj = json.loads(Path(path).read_text("utf-8"))
    obj.pop(BLOCK, None)
    return obj
