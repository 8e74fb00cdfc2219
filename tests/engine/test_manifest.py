"""The manifest: atomic outputs, records as the commit point, the lock, the event log."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from albumgen.engine.store import atomic
from albumgen.engine.store.hashing import canonical_json, derive_seed, unit_key
from albumgen.engine.store.manifest import SCHEMA_VERSION, AlbumLock, Manifest
from albumgen.errors import InputError, LockError


def test_canonical_json_ignores_key_order():
    assert canonical_json({"b": 1, "a": [1, {"y": 2, "x": 1}]}) == canonical_json({"a": [1, {"x": 1, "y": 2}], "b": 1})
    assert unit_key("render", "1", {"a": 1, "b": 2}, {}) == unit_key("render", "1", {"b": 2, "a": 1}, {})
    assert unit_key("render", "1", {"a": 1}, {}) != unit_key("render", "2", {"a": 1}, {})
    assert unit_key("render", "1", {"a": 1}, {"x": "h1"}) != unit_key("render", "1", {"a": 1}, {"x": "h2"})


def test_derive_seed_is_stable_and_distinct():
    # Fixed value: a seed must never change between Python versions or runs.
    assert derive_seed(1, "t01", 1) == derive_seed(1, "t01", 1)
    assert len({derive_seed(1, "t01", n) for n in range(1, 50)}) == 49
    assert derive_seed(0, "t01", 1) == int(f"{derive_seed(0, 't01', 1):016x}", 16)
    assert 0 <= derive_seed("x") < 2 ** 63


def test_atomic_path_leaves_no_partial_file(tmp_path):
    target = tmp_path / "out.bin"
    atomic.write_bytes(target, b"old")
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("crash mid-write")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_atomic_temporary_keeps_suffix_and_folder(tmp_path):
    tmp = atomic.temporary_path(tmp_path / "a" / "take-1.wav")
    assert tmp.parent == tmp_path / "a" and tmp.suffix == ".wav" and tmp.name.startswith(".")


def test_commit_then_done_then_tampered(tmp_path):
    m = Manifest(tmp_path)
    out = tmp_path / "manifest" / "takes" / "t01" / "take-1.wav"
    atomic.write_bytes(out, b"audio")
    m.commit("k1", "render", "t01/take-1", [out], {"seed": 3}, 1.5)
    assert m.is_done("k1", "render", "t01/take-1")
    assert not m.is_done("k2", "render", "t01/take-1")  # other key: config or inputs changed
    # A reloaded manifest sees the same record (it was appended to the journal).
    again = Manifest(tmp_path)
    assert again.is_done("k1", "render", "t01/take-1")
    assert again.compact() and not again.compact()  # folded once; nothing more to fold
    assert (tmp_path / "manifest" / "journal.jsonl").read_bytes() == b""
    raw = json.loads((tmp_path / "manifest" / "manifest.json").read_text())
    assert raw["schema_version"] == SCHEMA_VERSION
    assert list(raw) == sorted(raw)
    assert raw["records"]["render/t01/take-1"]["outputs"]["manifest/takes/t01/take-1.wav"]["size"] == 5
    # Same size, other bytes, other mtime: the hash catches it.
    out.write_bytes(b"AUDIO")
    os.utime(out, ns=(1, 1))
    assert not again.is_done("k1", "render", "t01/take-1")
    out.unlink()
    assert not again.is_done("k1", "render", "t01/take-1")


def test_touched_but_identical_file_stays_done(tmp_path):
    m = Manifest(tmp_path)
    out = tmp_path / "x.json"
    atomic.write_bytes(out, b"{}")
    m.commit("k", "s", "u", [out])
    os.utime(out, ns=(10**9, 10**9))  # e.g. copied without preserving times
    assert m.is_done("k", "s", "u")


def test_a_truncated_output_with_its_old_mtime_is_not_done(tmp_path):
    """The size check is what catches a file cut short behind the manifest's back (a copy
    interrupted by `rsync --inplace`, `cp -p` of a half-synced folder): its mtime says
    untouched, so the hash is never looked at."""
    m = Manifest(tmp_path)
    out = tmp_path / "take-1.wav"
    atomic.write_bytes(out, b"RIFF" + bytes(1000))
    rec = m.commit("k", "render", "t01/take-1", [out])
    with open(out, "r+b") as f:
        f.truncate(500)
    ref = rec.outputs["take-1.wav"]
    os.utime(out, ns=(ref.mtime_ns, ref.mtime_ns))
    assert not m.is_done("k", "render", "t01/take-1")


def test_a_newer_schema_is_a_clear_error(tmp_path):
    (tmp_path / "manifest").mkdir()
    (tmp_path / "manifest" / "manifest.json").write_text(json.dumps({"schema_version": 99, "records": {}}))
    with pytest.raises(InputError) as e:
        Manifest(tmp_path)
    assert "schema version 99" in str(e.value)


@pytest.mark.parametrize("content,needle", [
    ('{"schema_version": 2, "records": {"render/t01/ta', "not valid JSON"),  # truncated
    (json.dumps({"schema_version": SCHEMA_VERSION, "records": {"a": {"key": 1}}}), "malformed"),
    (b"\xff\xfe{", "unreadable"),
])
def test_damaged_snapshot_is_reported_and_set_aside(tmp_path, content, needle):
    # Damage is not fatal: its units are recovered from their sidecars (test_repair.py).
    folder = tmp_path / "manifest"
    folder.mkdir()
    (folder / "manifest.json").write_bytes(content if isinstance(content, bytes) else content.encode())
    m = Manifest(tmp_path)
    assert m.state.records == {} and len(m.damage) == 1 and needle in m.damage[0]
    assert m.compact()
    assert (folder / "manifest.json.damaged").read_bytes() == (content if isinstance(content, bytes)
                                                              else content.encode())
    assert json.loads((folder / "manifest.json").read_text())["schema_version"] == SCHEMA_VERSION
    assert Manifest(tmp_path).damage == []


def test_journal_torn_last_line_loses_only_that_commit(tmp_path):
    m = Manifest(tmp_path)
    out = tmp_path / "a.bin"
    atomic.write_bytes(out, b"a")
    m.commit("k1", "s", "u1", [out])
    with open(m.store.journal_path, "ab") as f:
        f.write(b'{"op":"put","record":{"key":"k2"')  # a kill mid-append
    m2 = Manifest(tmp_path)
    assert m2.damage == [] and set(m2.state.records) == {"s/u1"}
    m2.commit("k3", "s", "u3", [out])  # starts on a fresh line
    assert set(Manifest(tmp_path).state.records) == {"s/u1", "s/u3"}
    m2.drop("s", "u1")
    assert set(Manifest(tmp_path).state.records) == {"s/u3"}


def test_schema_1_album_migrates_on_first_compaction(tmp_path):
    # What albumgen 0.1 wrote: every record in manifest.json, schema 1, no journal.
    out = tmp_path / "manifest" / "takes" / "t01" / "take-1.wav"
    atomic.write_bytes(out, b"audio")
    st = out.stat()
    import hashlib

    old = {"schema_version": 1, "album_config_hash": "abc", "records": {"render/t01/take-1": {
        "key": "k1", "stage": "render", "unit": "t01/take-1", "data": {"seed": 3}, "finished_at": 1.0,
        "seconds": 2.0, "outputs": {"manifest/takes/t01/take-1.wav": {
            "sha256": hashlib.sha256(b"audio").hexdigest(), "size": st.st_size, "mtime_ns": st.st_mtime_ns}}}}}
    (tmp_path / "manifest" / "manifest.json").write_text(json.dumps(old))
    m = Manifest(tmp_path)
    assert m.damage == [] and m.is_done("k1", "render", "t01/take-1")
    assert m.record("render", "t01/take-1").data == {"seed": 3}
    assert m.compact()  # the schema moves to 2 even with nothing in the journal
    raw = json.loads((tmp_path / "manifest" / "manifest.json").read_text())
    assert raw["schema_version"] == SCHEMA_VERSION == 2 and raw["album_config_hash"] == "abc"
    assert Manifest(tmp_path).is_done("k1", "render", "t01/take-1")


def test_reader_sees_every_record_across_a_compaction(tmp_path):
    # Readers (status during a build) take no lock: journal first, snapshot second. A
    # journal read before a compaction replayed over the snapshot written by it is the
    # same state, since each op sets or removes one record.
    m = Manifest(tmp_path)
    out = tmp_path / "a.bin"
    atomic.write_bytes(out, b"a")
    for n in range(3):
        m.commit(f"k{n}", "s", f"u{n}", [out])
    m.drop("s", "u0")
    old_journal = m.store.journal_path.read_bytes()
    m.compact()
    m.store.journal_path.write_bytes(old_journal)  # as if read just before the compaction
    assert set(Manifest(tmp_path).state.records) == {"s/u1", "s/u2"}


def test_events_skip_a_torn_last_line(tmp_path):
    m = Manifest(tmp_path)
    m.event("build_start", stages=["prompts"])
    with open(m.events_path, "a") as f:
        f.write('{"ts": 1, "event": "unit_do')  # what a kill mid-write leaves
    m2 = Manifest(tmp_path)
    m2.event("build_done")
    assert [e["event"] for e in m2.events()] == ["build_start", "build_done"]


def test_lock_names_the_holder_and_is_released_on_exit(tmp_path):
    with AlbumLock(tmp_path):
        with pytest.raises(LockError) as e:
            with AlbumLock(tmp_path):
                pass
        assert f"pid {os.getpid()}" in str(e.value)
    with AlbumLock(tmp_path):  # released: can be taken again
        pass


def test_lock_of_a_killed_process_is_not_stale(tmp_path):
    # A holder killed with SIGKILL never runs cleanup; flock is released by the kernel.
    code = ("import sys, time; from albumgen.engine.store.manifest import AlbumLock; l = AlbumLock(sys.argv[1]).__enter__();"
            "print('locked', flush=True); time.sleep(60)")
    p = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "locked"
    with pytest.raises(LockError) as e:
        AlbumLock(tmp_path).__enter__()
    assert f"pid {p.pid}" in str(e.value)
    p.kill()
    p.wait()
    with AlbumLock(tmp_path):
        pass


def test_last_events_reads_the_end_of_the_log(tmp_path):
    m = Manifest(tmp_path / "album")
    m.dir.mkdir(parents=True)
    assert m.last_events(5) == []
    for i in range(3000):  # lines of every length, some longer than one read block
        m.event("step", n=i, pad="x" * (i % 7 if i % 500 else 9000))
    assert m.last_events(12) == m.events()[-12:]
    assert m.last_events(1) == m.events()[-1:]
    assert m.last_events(5000) == m.events()
    with open(m.events_path, "ab") as f:
        f.write(b'{"ts": 1, "event": "torn')  # a writer killed mid-line
    assert m.last_events(2) == m.events()[-1:]


def test_a_released_manifest_reads_its_records_again_at_first_use(tmp_path):
    m = Manifest(tmp_path / "album")
    m.dir.mkdir(parents=True)
    out = m.album_dir / "a.txt"
    out.write_text("a")
    with m.lock():
        m.commit("k1", "s", "a", [out])
    m.release()
    assert m._store is None  # nothing held until the album is used again
    assert m.is_done("k1", "s", "a") and [r.unit for r in m.records("s")] == ["a"]
