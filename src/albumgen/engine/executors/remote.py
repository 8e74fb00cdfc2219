"""Units run where the album folder is not: the worker half and the driver half of a remote
executor (executors_ray.py), with no shared filesystem between them.

The driver ships what a unit reads (Unit.reads: album files such as takes and cover.jpg;
Unit.reads_pipeline: files the pipeline names, such as an intro or a cover) and the
manifest's records (Records: a snapshot and the changes made since, so a record travels
about once, not once per wave). The worker runs the stage unchanged in a private scratch folder
that mirrors the album (same folder name, same relative paths), so a stage cannot tell it
is remote; it sends back each finished unit with its outputs as bytes by album-relative
path, and its events. The driver alone writes them into the album (atomically) and records
them, as it does for the local executor. Sidecars are outputs like any other, so they land
beside their files with the same hashes, and `albumgen repair` keeps working.

Model weights never travel: each node loads its own (the Hugging Face cache, or a folder
at the same path as on the driver: see docs/clusters.md).
"""
from __future__ import annotations

import logging
import os
import pickle
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ... import registry
from ...config import pipeline_model
from ...errors import StageError
from ...stage import Context, Done, Unit
from ..store import atomic
from ..store.records import ManifestFile
from .local import WorkerManifest

log = logging.getLogger("albumgen")


@dataclass
class Shipment:
    """What a worker needs to run units away from the album. File contents are whatever
    the executor ships (bytes, or a Ray object reference `fetch` turns into bytes)."""

    album_name: str  # the album folder's name: the playlist is named after it
    base_dir: str  # the driver's pipeline folder: model folders are looked up at this path
    album_top: str | None  # the pipeline folder's entry that holds the album: never linked
    files: dict[str, Any] = field(default_factory=dict)  # album-relative path -> contents
    pipeline: dict[str, Any] = field(default_factory=dict)  # path as the pipeline names it -> contents


@dataclass
class Records:
    """An album's records on their way to a worker: a pickled snapshot and the pickled
    changes made since it, oldest first, each a (changed records, dropped ids, album config
    hash) triple. Each is bytes, or a Ray object reference `fetch` turns into bytes, put
    once and shared by every unit that goes out until the next snapshot."""

    base: Any
    deltas: list[Any] = field(default_factory=list)


def open_records(records: Records | ManifestFile, fetch: Callable[[Any], bytes] = bytes) -> ManifestFile:
    """The records as the driver had them when the units went out."""
    if isinstance(records, ManifestFile):
        return records
    state = pickle.loads(fetch(records.base))
    for blob in records.deltas:
        changed, dropped, config_hash = pickle.loads(fetch(blob))
        for rid in dropped:
            state.records.pop(rid, None)
        state.records.update(changed)
        state.album_config_hash = config_hash
    return state


def album_top(album_dir: Path, base_dir: Path) -> str | None:
    """The entry of the pipeline folder the album lives under (albums/ by default)."""
    try:
        return Path(album_dir).resolve().relative_to(Path(base_dir).resolve()).parts[0]
    except (ValueError, IndexError):
        return None


# -- the worker half ------------------------------------------------------------------
def run_units(stage_name: str, config: dict, shipment: Shipment, state: Records | ManifestFile, units: list[Unit],
              level: int, fetch: Callable[[Any], bytes] = bytes) -> tuple[list[tuple[Done, dict[str, bytes]]], list]:
    """Run `units` of a stage in a scratch mirror of the album; return each finished unit
    (outputs as album-relative paths) with its outputs' bytes, and the events it logged."""
    _worker_logging(level)
    scratch = Path(tempfile.mkdtemp(prefix="albumgen-"))
    try:
        album = scratch / "album" / shipment.album_name
        base = scratch_base(scratch, shipment.pipeline)
        album.mkdir(parents=True)
        base.mkdir(parents=True)
        for rel, blob in shipment.files.items():
            _place(album, rel, fetch(blob), scratch)
        for rel, blob in shipment.pipeline.items():
            _place(base, rel, fetch(blob), scratch)
        _link_pipeline_folder(base, Path(shipment.base_dir), shipment.album_top)
        manifest = WorkerManifest(album)
        manifest.store.state = open_records(state, fetch)  # the driver's records: no reread per unit
        ctx = Context(config=pipeline_model().model_validate(config), album_dir=album, base_dir=base,
                      manifest=manifest, log=logging.getLogger("albumgen"), progress=False)
        stage = registry.get(stage_name)()
        finished = [_pack(stage_name, album, done) for done in stage.run(ctx, units)]
        return finished, manifest.collected
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def scratch_base(scratch: Path, rels) -> Path:
    """The worker's pipeline folder, deep enough inside `scratch` that every shipped path
    the pipeline names, "../../melodies/a.wav" included, lands inside scratch too."""
    def ups(rel: str) -> int:  # leading ".." of the path, once normalised
        parts = Path(os.path.normpath(rel)).parts
        return next((i for i, p in enumerate(parts) if p != ".."), len(parts))

    depth = max((ups(rel) for rel in rels if not Path(rel).expanduser().is_absolute()), default=0)
    return scratch.joinpath(*["up"] * depth, "pipeline")


def _place(root: Path, rel: str, data: bytes, scratch: Path) -> None:
    path = Path(os.path.normpath(root / rel))
    if not path.is_relative_to(scratch):  # an absolute path: the node must have it itself
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _link_pipeline_folder(base: Path, driver_base: Path, album_top: str | None) -> None:
    """Where the node has the driver's pipeline folder (one machine, or a shared disk), the
    scratch one links to what was not shipped (a model folder next to the pipeline), never
    to the album: the worker sees the album only through what the driver sent."""
    if not driver_base.is_dir():
        return
    for entry in driver_base.iterdir():
        if entry.name != album_top and not os.path.lexists(base / entry.name):
            (base / entry.name).symlink_to(entry)


def _pack(stage: str, album: Path, done: Done) -> tuple[Done, dict[str, bytes]]:
    blobs: dict[str, bytes] = {}
    root = album.resolve()
    for out in done.outputs:
        path = (album / out).resolve()  # absolute stays absolute
        if not path.is_relative_to(root) or not path.is_file():
            raise StageError(f"stage '{stage}' unit {done.unit.id} reported {out}, which is not a file in the album",
                             "a bug in the stage: outputs must be written under the album folder")
        blobs[path.relative_to(root).as_posix()] = path.read_bytes()
    return replace(done, outputs=list(blobs)), blobs


def _worker_logging(level: int) -> None:
    root = logging.getLogger("albumgen")
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        root.addHandler(handler)
        root.propagate = False
    root.setLevel(level)


# -- the driver half ------------------------------------------------------------------
def land(ctx: Context, stage: str, done: Done, blobs: dict[str, bytes]) -> Done:
    """Write a remote unit's outputs into the album, each atomically; the returned Done
    names them as the local executor would, for the runner to check and record."""
    root = ctx.album_dir.resolve()
    outputs = []
    for rel in done.outputs:
        path = (ctx.album_dir / rel).resolve()
        if Path(rel).is_absolute() or not path.is_relative_to(root) or path == root:
            raise StageError(f"stage '{stage}' unit {done.unit.id} reported {rel}, outside the album folder {root}",
                             "a bug in the stage: outputs must be written under the album folder")
        atomic.write_bytes(path, blobs[rel])
        outputs.append(ctx.album_dir / rel)
    return replace(done, outputs=outputs)
