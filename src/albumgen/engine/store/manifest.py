"""The manifest directory: records of finished units, the lock, the event log.

A record is the commit point of a unit (DESIGN.md): outputs are os.replace'd into place
first, then the record is appended to the record store (records.py: a journal folded into
manifest.json). A crash between the two leaves outputs with no record; their sidecar says
what they are, so the next build recovers them instead of redoing them (recovery.py).
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ...errors import AlbumgenError, LockError, OutputError
from . import events
from .hashing import sha256_file
from .records import SCHEMA_VERSION, ManifestFile, OutputRef, Record, RecordStore, append_line

__all__ = ["SCHEMA_VERSION", "AlbumLock", "Manifest", "ManifestFile", "OutputRef", "Record"]


class Manifest:
    def __init__(self, album_dir: Path):
        self.album_dir = Path(album_dir)
        self.dir = self.album_dir / "manifest"
        self.path = self.dir / "manifest.json"
        self.events_path = self.dir / "events.jsonl"
        # Read now, so a damaged or newer manifest is an error at open; after `release`, at next use.
        self._store: RecordStore | None = RecordStore(self.dir)
        self._events_lock = threading.Lock()  # the device thread logs events too
        self.locked = False  # this process holds the album lock (set by `lock()`)
        self.change_note = "the pipeline changed"  # why outputs go to the trash (set by a build)
        self._unsaved_mtimes: dict[str, tuple[Record, Record]] = {}
        self._index: tuple[RecordStore, int, dict[str, list[Record]]] | None = None
        self._derived: dict[str, tuple[tuple[RecordStore, int], Any]] = {}
        self._typed: dict[tuple, tuple[Record, Any]] = {}

    def reload(self) -> None:
        """Read the record store again: called as soon as the album lock is taken, since
        another build may have committed between opening the album and locking it (a
        catalogue opens every album at its start and reaches the last one hours later)."""
        self.store = RecordStore(self.dir)

    @property
    def store(self) -> RecordStore:
        if self._store is None:
            self._store = RecordStore(self.dir)
        return self._store

    @store.setter
    def store(self, store: RecordStore) -> None:
        self._store = store

    def release(self) -> None:
        """Let go of the records read so far (read again at the next use): a catalogue holds
        one album's records at a time, not every album's."""
        self._store = None
        self._index = None
        self._derived.clear()
        self._typed.clear()

    @property
    def state(self) -> ManifestFile:
        return self.store.state

    @property
    def damage(self) -> list[str]:
        """What of the record store could not be read (its units are recovered from files)."""
        return self.store.damage

    @property
    def skipped(self) -> list[str]:
        """Journal lines this albumgen could not apply (a newer albumgen's ops): kept aside."""
        return self.store.skipped

    def ensure_writable(self) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            probe = self.dir / f".probe{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            raise self._unwritable(e) from e

    def check_writable(self) -> None:
        """ensure_writable without leaving a trace (a dry run writes nothing): the nearest
        folder that exists on the way to the manifest takes a probe folder, removed at once.
        Permissions alone cannot tell: root passes access() on a read-only sysfs, a file
        where a folder should be fails only at mkdir."""
        here = self.dir
        while not here.exists() and here != here.parent:
            here = here.parent
        try:
            if not here.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(here))
            os.rmdir(tempfile.mkdtemp(prefix=".probe", dir=here))
        except OSError as e:
            raise self._unwritable(e) from e

    def _unwritable(self, e: OSError) -> OutputError:
        return OutputError(f"cannot write to {self.album_dir}: {e.strerror}",
                           "set output_dir in the pipeline to a folder you can write")

    # -- records -----------------------------------------------------------------------
    def record(self, stage: str, unit: str) -> Record | None:
        return self.state.records.get(f"{stage}/{unit}")

    def records(self, stage: str) -> list[Record]:
        # Indexed by stage, rebuilt only when the records changed: plans ask for one stage's
        # records once per track, and a big album has tens of thousands of records.
        index = self._index
        if index is None or index[0] is not self.store or index[1] != self.store.version:
            by_stage: dict[str, list[Record]] = {}
            for r in self.state.records.values():
                by_stage.setdefault(r.stage, []).append(r)
            self._index = index = (self.store, self.store.version, by_stage)
        return list(index[2].get(stage, ()))

    def derived(self, name: str, build: Callable[[], Any]) -> Any:
        """A value computed from the records (a typed view such as every take), kept until the
        records change: a plan and a status ask for the same view many times over."""
        version = (self.store, self.store.version)
        hit = self._derived.get(name)
        if hit is None or hit[0] != version:
            hit = self._derived[name] = (version, build())
        return hit[1]

    def typed(self, rec: Record, make: Callable[[Record], Any]) -> Any:
        """`make(rec)` (a record read as its artifact), kept while this record stands: a commit
        replaces the record object, so only changed records are read again."""
        key = (make, rec.stage, rec.unit)
        hit = self._typed.get(key)
        if hit is None or hit[0] is not rec:
            hit = self._typed[key] = (rec, make(rec))
        return hit[1]

    def is_done(self, key: str, stage: str, unit: str) -> bool:
        """True when the unit's record has this key and every output is still what was written."""
        rec = self.record(stage, unit)
        return rec is not None and rec.key == key and self.outputs_intact(rec)

    def outputs_intact(self, rec: Record) -> bool:
        moved: dict[str, int] = {}
        root = str(self.album_dir)
        for rel, ref in rec.outputs.items():
            path = f"{root}/{rel}"  # a string, not a Path: this runs for every output of every unit
            try:
                st = os.stat(path)
            except OSError:
                return False
            if st.st_size != ref.size:
                return False
            # Cheapest check first, as DVC does: an untouched file keeps its mtime, so only
            # files that were touched pay for a full hash.
            if st.st_mtime_ns != ref.mtime_ns:
                if sha256_file(path) != ref.sha256:
                    return False
                moved[rel] = st.st_mtime_ns
        if moved:  # copied, restored or synced without times: the same bytes, a new mtime
            self._remember_mtimes(rec, moved)
        return True

    def _remember_mtimes(self, rec: Record, moved: dict[str, int]) -> None:
        """Record the new mtimes of outputs whose hash still matches, so neither the next
        scheduler step nor the next build or status hashes them again. Written at once under
        the album lock; otherwise kept in memory until `save_mtimes`."""
        outputs = {rel: ref.model_copy(update={"mtime_ns": moved[rel]}) if rel in moved else ref
                   for rel, ref in rec.outputs.items()}
        new = rec.model_copy(update={"outputs": outputs})
        if self.locked:
            self.store.put(new)
        else:
            self.state.records[f"{rec.stage}/{rec.unit}"] = new
            self.store.version += 1
            self._unsaved_mtimes[f"{rec.stage}/{rec.unit}"] = (rec, new)

    def save_mtimes(self) -> None:
        """Write the mtimes a reader without the lock (status) found moved, if no build holds
        the album now; a held or unlockable album just keeps paying for the hashes."""
        if not self._unsaved_mtimes or self.locked:
            return
        try:
            with AlbumLock(self.dir):
                store = RecordStore(self.dir)  # what holds now, not what this reader saw
                for rid, (seen, new) in self._unsaved_mtimes.items():
                    current = store.state.records.get(rid)
                    if current is not None and current == seen:
                        store.put(new)
        except (AlbumgenError, OSError):
            return
        self._unsaved_mtimes.clear()

    @contextlib.contextmanager
    def lock(self) -> Iterator[Manifest]:
        """Hold the album: the records are read again (another build may have committed
        since this one opened the album) and writes are allowed."""
        with AlbumLock(self.dir):
            self.reload()
            self.locked = True
            try:
                yield self
            finally:
                self.locked = False

    def commit(self, key: str, stage: str, unit: str, outputs: list[Path], data: dict | None = None,
               seconds: float = 0.0, hashes: dict[str, str] | None = None) -> Record:
        """Record a finished unit: one journal line, the same cost at any manifest size.
        `hashes` (relative path -> sha256) saves hashing files the caller just checked."""
        rec = self.new_record(key, stage, unit, outputs, data, seconds, hashes)
        self.store.put(rec)
        return rec

    def new_record(self, key: str, stage: str, unit: str, outputs: list[Path], data: dict | None = None,
                   seconds: float = 0.0, hashes: dict[str, str] | None = None) -> Record:
        """The record of these outputs as they are on disk now, not stored."""
        refs = {}
        for path in outputs:
            path = Path(path)
            st = path.stat()
            rel = path.relative_to(self.album_dir).as_posix()
            digest = (hashes or {}).get(rel) or sha256_file(path)
            refs[rel] = OutputRef(sha256=digest, size=st.st_size, mtime_ns=st.st_mtime_ns)
        return Record(key=key, stage=stage, unit=unit, outputs=refs, data=data or {},
                      finished_at=time.time(), seconds=round(seconds, 3))

    def drop(self, stage: str, unit: str) -> None:
        self.store.drop(f"{stage}/{unit}")

    def set_config_hash(self, h: str) -> None:
        self.store.set_config_hash(h)

    def compact(self) -> bool:
        """Fold the journal into manifest.json; call only under the album lock."""
        return self.store.compact()

    # -- events ------------------------------------------------------------------------
    def event(self, event: str, **fields: Any) -> None:
        line = json.dumps({"ts": round(time.time(), 3), "event": event, **fields}, sort_keys=True)
        with self._events_lock:
            events.rotate_if_full(self.events_path)  # a week-long build keeps a bounded log
            append_line(self.events_path, line)

    def last_events(self, n: int) -> list[dict]:
        """The last `n` events, read from the end of the log: a page polling every second
        costs the same on an album that ran for a week as on one that just started."""
        return events.read_last(self.events_path, n)

    def events_since(self, event: str) -> list[dict]:
        """The events from the last `event` on (e.g. the running build's, from its build_start)."""
        return events.read_since(self.events_path, event)

    def events(self) -> list[dict]:
        """Every event kept, oldest first, across the rotated segments (store/events.py)."""
        return events.read_all(self.events_path)


class AlbumLock:
    """One build per album. flock is released by the kernel when the holder dies, so a
    SIGKILLed build never leaves a stale lock behind."""

    def __init__(self, manifest_dir: Path):
        self.path = Path(manifest_dir) / "lock"
        self._fd: int | None = None

    def __enter__(self) -> AlbumLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks; one build per album is on the user.
            self._fd = fd
            return self
        try:
            _take(fcntl, fd)
        except OSError as e:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if e.errno in HELD:
                raise LockError(f"another albumgen build (pid {holder}) is writing {self.path.parent.parent}",
                                "wait for it to finish, or stop that process") from None
            raise lock_refused(e, self.path) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        os.fsync(fd)
        self._fd = fd
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None


# What flock says when another process holds the lock; any other errno is the filesystem
# refusing locks altogether, and naming a holder then would send the user after a dead pid.
HELD = {errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES}


def _take(fcntl, fd: int) -> None:
    for _ in range(10):  # EINTR: a signal arrived during the call; the lock state is unchanged
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except InterruptedError:
            continue
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def lock_refused(e: OSError, path: Path) -> OutputError:
    """The filesystem under the album cannot lock files (NFS without a lock manager, some FUSE
    filesystems): say which refusal it was and where a build can run."""
    album = path.parent.parent
    why = {errno.ENOLCK: "it has no lock manager (NFS mounted without lockd?)",
           errno.EOPNOTSUPP: "it does not support file locks (a FUSE or network filesystem?)",
           errno.EINTR: "the lock call kept being interrupted by signals"}.get(e.errno, "")
    what = f"cannot lock {path}: {e.strerror or e}" + (f"; {why}" if why else "")
    return OutputError(what, f"set output_dir to a folder on a local disk, or mount {album.parent} with "
                             "local locks (NFS: -o local_lock=flock)")
