"""The record store: a snapshot (manifest.json) plus an append-only journal (journal.jsonl).

Why a journal and not SQLite: a commit must cost the same at 10,000 records as at 100, so
it may not rewrite everything. Appending one JSON line and fsyncing it does that with what
albumgen already trusts for events.jsonl: no new dependency, no binary file a person cannot
read or diff, no WAL side files that misbehave on network filesystems, and the same torn-
line rule (a kill mid-append loses only that line). The snapshot is rewritten only by
`compact()`, which the runner calls under the album lock when a build ends, so it is read
by people and tools as before, and a reader needs only JSON.

Readers never take the lock (`albumgen status` during a build): they read the journal
first and the snapshot second. Compaction writes the new snapshot before it empties the
journal, so a reader sees either old snapshot + journal, or new snapshot + (old or new)
journal; replaying a journal over a snapshot that already holds it gives the same state,
because each op sets or removes one record by id (last write wins).
"""
from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from ...errors import InputError
from ...inputs import check_file
from . import atomic

SCHEMA_VERSION = 2  # 2: records may also live in journal.jsonl (1: manifest.json only)
READABLE = (1, 2)  # schema 1 has the same shape: it migrates by being compacted as 2

log = logging.getLogger("albumgen")


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


class RecordStore:
    def __init__(self, folder: Path):
        self.snapshot_path = Path(folder) / "manifest.json"
        self.journal_path = Path(folder) / "journal.jsonl"
        self.damage: list[str] = []  # what of the snapshot was unreadable; its units are recovered from files
        self.skipped: list[str] = []  # journal lines that are valid JSON but no op this version can apply
        self._skipped_lines: list[bytes] = []
        self.journal_ops = 0  # ops not yet folded into the snapshot
        self.snapshot_schema = SCHEMA_VERSION
        self.version = 0  # counts changes to `state.records`: readers' indexes know when to rebuild
        lines = self._read_journal()  # journal before snapshot: see the module docstring
        self.state = self._read_snapshot()
        for n, line in enumerate(lines, 1):
            self._replay(n, line)

    # -- reading -----------------------------------------------------------------------
    def _read_journal(self) -> list[bytes]:
        if os.path.lexists(self.journal_path):  # a FIFO would block every append, a folder fail it
            check_file(self.journal_path, str(self.journal_path),
                       fix="remove it: the next build rebuilds the records from the files on disk")
        try:
            return self.journal_path.read_bytes().splitlines()
        except (FileNotFoundError, NotADirectoryError):  # a new album (or no folder: ensure_writable says so)
            return []

    def _read_snapshot(self) -> ManifestFile:
        path = self.snapshot_path
        try:
            if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block the read forever
                return self._damaged(f"{path} is not a regular file")
            text = path.read_text("utf-8")
        except (FileNotFoundError, NotADirectoryError):
            return ManifestFile(schema_version=SCHEMA_VERSION)
        except (OSError, UnicodeDecodeError) as e:
            return self._damaged(f"{path} is unreadable: {e}")
        try:
            raw = json.loads(text)
        except (ValueError, RecursionError) as e:
            return self._damaged(f"{path} is not valid JSON: {e}")
        version = raw.get("schema_version") if isinstance(raw, dict) else None
        if isinstance(version, int) and version not in READABLE and version > SCHEMA_VERSION:
            # A newer albumgen's records: rebuilding over them would throw its work away.
            raise InputError(f"{path} has schema version {version}, this albumgen reads up to {SCHEMA_VERSION}",
                             "use the albumgen version that made it (or a newer one)")
        try:
            state = ManifestFile.model_validate(raw)
        except ValidationError as e:
            return self._damaged(f"{path} is malformed: {e.errors()[0]['msg']}")
        if state.schema_version not in READABLE:
            return self._damaged(f"{path} has schema version {state.schema_version!r}")
        self.snapshot_schema = state.schema_version
        state.schema_version = SCHEMA_VERSION
        return state

    def _damaged(self, what: str) -> ManifestFile:
        self.damage.append(what)
        return ManifestFile(schema_version=SCHEMA_VERSION)

    def _replay(self, n: int, line: bytes) -> None:
        if not line.strip():
            return
        try:
            op = json.loads(line)
        except (ValueError, RecursionError):
            # A line torn by a kill mid-append: its unit's files, if complete, are recovered
            # from their sidecars; nothing else was lost.
            log.debug("%s line %d is torn, skipped", self.journal_path, n)
            return
        try:
            self._apply(op)
        except (ValidationError, KeyError, TypeError, AttributeError) as e:
            # Most likely a newer albumgen's op (a new kind, a record with new fields): it is
            # no reason to distrust the snapshot or the other lines. The fold keeps it aside
            # in journal.skipped.jsonl, so nothing that version wrote is thrown away.
            kind = op.get("op") if isinstance(op, dict) else None
            self.skipped.append(f"{self.journal_path} line {n} ({f'op {kind!r}' if isinstance(kind, str) else 'no op'}"
                                f", {type(e).__name__}) is not an op this albumgen can apply")
            self._skipped_lines.append(line)
        self.journal_ops += 1

    def _apply(self, op: dict) -> None:
        kind = op["op"]
        self.version += 1
        if kind == "put":
            rec = Record.model_validate(op["record"])
            self.state.records[f"{rec.stage}/{rec.unit}"] = rec
        elif kind == "drop":
            self.state.records.pop(op["id"], None)
        elif kind == "config":
            self.state.album_config_hash = op["album_config_hash"]
        else:
            raise KeyError(kind)

    # -- writing -----------------------------------------------------------------------
    def put(self, rec: Record) -> None:
        self._append({"op": "put", "record": rec.model_dump(mode="json")})
        self.state.records[f"{rec.stage}/{rec.unit}"] = rec
        self.version += 1

    def drop(self, rid: str) -> None:
        if rid in self.state.records:
            self._append({"op": "drop", "id": rid})
            del self.state.records[rid]
            self.version += 1

    def set_config_hash(self, h: str) -> None:
        if self.state.album_config_hash != h:
            self._append({"op": "config", "album_config_hash": h})
            self.state.album_config_hash = h

    def _append(self, op: dict) -> None:
        line = json.dumps(op, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        append_line(self.journal_path, line)
        self.journal_ops += 1

    def compact(self) -> bool:
        """Fold the journal into manifest.json (only under the album lock). Returns whether
        anything was written: an up-to-date album stays byte for byte as it was."""
        if not self.journal_ops and not self.damage and self.snapshot_schema == SCHEMA_VERSION \
                and self.snapshot_path.exists():
            return False
        if self.damage and self.snapshot_path.is_file():
            # Keep what was damaged for the curious, as a copy: manifest.json itself is only
            # ever replaced whole, so there is no moment without one.
            try:
                damaged = self.snapshot_path.read_bytes()
            except OSError:
                damaged = None
            if damaged is not None:
                atomic.write_bytes(self.snapshot_path.with_name("manifest.json.damaged"), damaged)
        if self._skipped_lines:  # before the journal is emptied: a kill in between only repeats this
            self._keep_skipped()
        atomic.write_text(self.snapshot_path, snapshot_text(self.state))
        atomic.write_bytes(self.journal_path, b"")
        self.journal_ops = 0
        self.damage = []
        self.skipped, self._skipped_lines = [], []
        self.snapshot_schema = SCHEMA_VERSION
        return True


    def _keep_skipped(self) -> None:
        path = self.journal_path.with_name("journal.skipped.jsonl")
        try:
            kept = set(path.read_bytes().splitlines())
        except FileNotFoundError:
            kept = set()
        for line in self._skipped_lines:
            if line not in kept:
                append_line(path, line.decode("utf-8", "replace"))
                kept.add(line)


def snapshot_text(state: ManifestFile) -> str:
    """manifest.json with sorted keys and one record per line: diffable, readable, and
    written by json's C encoder (an indented dump of 10,000 records takes seconds)."""
    def dump(obj: Any) -> str:
        return json.dumps(obj, sort_keys=True, ensure_ascii=False)

    records = [f"    {dump(rid)}: {dump(rec.model_dump(mode='json'))}" for rid, rec in sorted(state.records.items())]
    return "".join([
        "{\n",
        f'  "album_config_hash": {dump(state.album_config_hash)},\n',
        '  "records": {' + ("\n" + ",\n".join(records) + "\n  " if records else "") + "},\n",
        f'  "schema_version": {state.schema_version}\n',
        "}\n",
    ])


def append_line(path: Path, line: str) -> None:
    """Append one line durably. A kill mid-write leaves a torn last line: start on a fresh
    line so only that line is lost (readers skip it), not the next one too. A full disk is
    the output error (exit 7) naming the file and what the line needed."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+b") as f:
            if f.tell() > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    line = "\n" + line
            f.write((line + "\n").encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        if e.errno in atomic.DISK_FULL:
            raise atomic.disk_full(e, path, len(line.encode("utf-8")) + 1) from e
        raise
