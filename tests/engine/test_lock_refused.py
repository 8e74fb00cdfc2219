"""A filesystem that refuses file locks is not a build that holds the album: the error says
what the filesystem refused and where a build can run, never a dead pid. The errno is
injected at the one flock call (no FUSE or lock-less NFS here); the held case stays a real
lock held by a real process (test_manifest, test_cli)."""
from __future__ import annotations

import errno
import fcntl
import os

import pytest
from click.testing import CliRunner
from helpers import write_pipeline

from albumgen.cli import main
from albumgen.engine.store.manifest import AlbumLock

WHY = {errno.ENOLCK: "no lock manager", errno.EOPNOTSUPP: "does not support file locks",
       errno.EINTR: "kept being interrupted"}


@pytest.mark.parametrize("code", sorted(WHY), ids=[errno.errorcode[c] for c in sorted(WHY)])
def test_refused_lock_names_the_filesystem_not_a_holder(tmp_path, monkeypatch, code):
    pipeline = write_pipeline(tmp_path)
    album = tmp_path / "albums" / "test-album"
    (album / "manifest").mkdir(parents=True)
    (album / "manifest" / "lock").write_text("999999")  # the pid of a build long gone
    calls = []

    def refuse(fd, op):
        calls.append(op)
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(fcntl, "flock", refuse)
    r = CliRunner().invoke(main, ["build", str(pipeline)])
    assert r.exit_code == 7, r.output
    assert calls and calls[0] == fcntl.LOCK_EX | fcntl.LOCK_NB
    line = r.stderr.strip()
    assert line.count("\n") == 0 and line.startswith(f"Error: cannot lock {album / 'manifest' / 'lock'}: ")
    assert WHY[code] in line and "999999" not in line and "another albumgen build" not in line
    assert line.endswith("(set output_dir to a folder on a local disk, or mount "
                         f"{album.parent} with local locks (NFS: -o local_lock=flock))")
    assert sorted(p.name for p in (album / "manifest").iterdir()) == ["lock"]  # nothing written


def test_one_interrupted_flock_is_retried(tmp_path, monkeypatch):
    real = fcntl.flock
    calls = []

    def interrupted_once(fd, op):
        calls.append(op)
        if len(calls) == 1:
            raise InterruptedError(errno.EINTR, os.strerror(errno.EINTR))
        return real(fd, op)

    monkeypatch.setattr(fcntl, "flock", interrupted_once)
    with AlbumLock(tmp_path):
        assert len(calls) == 2
        monkeypatch.setattr(fcntl, "flock", real)
        with pytest.raises(Exception, match=f"pid {os.getpid()}"):  # and it really is held
            AlbumLock(tmp_path).__enter__()
