"""The manifest directory: records of finished units, the lock, the event log.

A record is the commit point of a unit (DESIGN.md): outputs are os.replace'd into place
first, then the record is added and manifest.json rewritten atomically. A crash between
the two leaves an output with no record, which the next build simply redoes.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from . import atomic
from .errors import InputError, LockError, OutputError
from .hashing import sha256_file
from .inputs import MB, read_optional_text

SCHEMA_VERSION = 1


class OutputRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sha256: str
    size: int
    mtime_ns: int


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str
    stage: str
    unit: str
    outputs: dict[str, OutputRef]  # path relative to the album folder -> what was written
    data: dict[str, Any] = {}
    finished_at: float
    seconds: float

    @field_validator("outputs")
    @classmethod
    def _inside_album(cls, outputs: dict[str, OutputRef]) -> dict[str, OutputRef]:
        # A pruned record's outputs are deleted: a hand-edited "../x" must never reach that.
        for rel in outputs:
            if rel.startswith("/") or "\\" in rel or ".." in rel.split("/") or not rel.strip("/"):
                raise ValueError(f"output {rel!r} is not a path inside the album folder")
        return outputs


class ManifestFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    schema_version: int
    album_config_hash: str = ""
    records: dict[str, Record] = {}  # "stage/unit" -> the live record of that unit


class Manifest:
    def __init__(self, album_dir: Path):
        self.album_dir = Path(album_dir)
        self.dir = self.album_dir / "manifest"
        self.path = self.dir / "manifest.json"
        self.events_path = self.dir / "events.jsonl"
        self.state = self._load()

    # -- loading -----------------------------------------------------------------------
    def _load(self) -> ManifestFile:
        fix = "restore it from a backup or delete the manifest folder to rebuild"
        # Through inputs: a FIFO, folder or symlink loop there is an error, not a hang or "empty".
        text = read_optional_text(self.path, str(self.path), max_bytes=1024 * MB, fix=fix)
        if text is None:
            return ManifestFile(schema_version=SCHEMA_VERSION)
        try:
            raw = json.loads(text)
        except (ValueError, RecursionError) as e:
            raise InputError(f"{self.path} is not valid JSON: {e}", fix) from e
        if not isinstance(raw, dict):
            raise InputError(f"{self.path} is not a manifest: it holds a JSON {type(raw).__name__}", fix)
        if raw.get("schema_version") != SCHEMA_VERSION:
            raise InputError(f"{self.path} has schema version {raw.get('schema_version')!r}, "
                             f"this albumgen reads {SCHEMA_VERSION}",
                             "use the albumgen version that made it, or delete the manifest folder")
        try:
            return ManifestFile.model_validate(raw)
        except ValidationError as e:
            raise InputError(f"{self.path} is malformed: {e.errors()[0]['msg']}",
                             "delete the manifest folder to rebuild") from e

    def ensure_writable(self) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            probe = self.dir / f".probe{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            raise OutputError(f"cannot write to {self.album_dir}: {e.strerror}",
                              "set output_dir in the pipeline to a folder you can write") from e

    # -- records -----------------------------------------------------------------------
    def record(self, stage: str, unit: str) -> Record | None:
        return self.state.records.get(f"{stage}/{unit}")

    def records(self, stage: str) -> list[Record]:
        return [r for r in self.state.records.values() if r.stage == stage]

    def is_done(self, key: str, stage: str, unit: str) -> bool:
        """True when the unit's record has this key and every output is still what was written."""
        rec = self.record(stage, unit)
        return rec is not None and rec.key == key and self.outputs_intact(rec)

    def outputs_intact(self, rec: Record) -> bool:
        for rel, ref in rec.outputs.items():
            path = self.album_dir / rel
            try:
                st = path.stat()
            except OSError:
                return False
            if st.st_size != ref.size:
                return False
            # Cheapest check first, as DVC does: an untouched file keeps its mtime, so only
            # files that were touched pay for a full hash.
            if st.st_mtime_ns != ref.mtime_ns and sha256_file(path) != ref.sha256:
                return False
        return True

    def commit(self, key: str, stage: str, unit: str, outputs: list[Path], data: dict | None = None,
               seconds: float = 0.0) -> Record:
        refs = {}
        for path in outputs:
            path = Path(path)
            st = path.stat()
            refs[path.relative_to(self.album_dir).as_posix()] = OutputRef(
                sha256=sha256_file(path), size=st.st_size, mtime_ns=st.st_mtime_ns)
        rec = Record(key=key, stage=stage, unit=unit, outputs=refs, data=data or {},
                     finished_at=time.time(), seconds=round(seconds, 3))
        self.state.records[f"{stage}/{unit}"] = rec
        self.save()
        return rec

    def drop(self, stage: str, unit: str) -> None:
        if self.state.records.pop(f"{stage}/{unit}", None) is not None:
            self.save()

    def set_config_hash(self, h: str) -> None:
        if self.state.album_config_hash != h:
            self.state.album_config_hash = h
            self.save()

    def save(self) -> None:
        atomic.write_json(self.path, self.state.model_dump(mode="json"))

    # -- events ------------------------------------------------------------------------
    def event(self, event: str, **fields: Any) -> None:
        line = json.dumps({"ts": round(time.time(), 3), "event": event, **fields}, sort_keys=True)
        self.dir.mkdir(parents=True, exist_ok=True)
        # Append-only. A kill mid-write leaves a torn last line: start on a fresh line so only
        # that line is lost (readers skip it), not the next event too.
        with open(self.events_path, "a+b") as f:
            if f.tell() > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    line = "\n" + line
            f.write((line + "\n").encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())

    def events(self) -> list[dict]:
        if not self.events_path.exists():
            return []
        out = []
        for line in self.events_path.read_text("utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out


class AlbumLock:
    """One build per album. flock is released by the kernel when the holder dies, so a
    SIGKILLed build never leaves a stale lock behind."""

    def __init__(self, manifest_dir: Path):
        self.path = Path(manifest_dir) / "lock"
        self._fd: int | None = None

    def __enter__(self) -> "AlbumLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks; one build per album is on the user.
            self._fd = fd
            return self
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LockError(f"another albumgen build (pid {holder}) is writing {self.path.parent.parent}",
                            "wait for it to finish, or stop that process") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        os.fsync(fd)
        self._fd = fd
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None
