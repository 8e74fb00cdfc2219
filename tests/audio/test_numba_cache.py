"""librosa's kernels on a fresh numba cache: processes that start their first analysis side
by side (a pool's workers, test processes) compile one at a time, and the first leaves a
marker so later ones do not wait at all (albumgen.audio.numba_cache)."""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import tempfile
import time

import pytest

from albumgen.audio import numba_cache

ANALYSE = ("import numpy as np; from albumgen.audio.music import analyse; "
           "m = analyse(np.random.default_rng(1).standard_normal(44100).astype(np.float32) * 0.1, 22050); "
           "print(m.bpm, m.key, m.fingerprint.round(3).tolist())")


def start(env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", ANALYSE], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def waiting_on(lock: str, pids: set[int], timeout: float) -> set[int]:
    """The pids among `pids` that the kernel lists as blocked on `lock` (/proc/locks '->' lines)."""
    inode = str(os.stat(lock).st_ino)
    deadline = time.monotonic() + timeout
    while True:
        with open("/proc/locks") as f:
            blocked = {int(line.split()[5]) for line in f
                       if "->" in line and line.split()[6].rsplit(":", 1)[-1] == inode}
        if pids <= blocked or time.monotonic() > deadline:
            return blocked & pids
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/locks"), reason="reads the kernel's lock table")
def test_first_analyses_on_a_fresh_cache_compile_one_at_a_time(tmp_path, monkeypatch):
    cache = tmp_path / "numba"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "TMPDIR": str(tmp_path)}
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(cache))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    lock, marker = numba_cache.paths()
    assert lock.startswith(str(tmp_path)) and not os.path.exists(marker)

    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as a first process compiling would
    procs = [start(env) for _ in range(3)]
    try:
        blocked = waiting_on(lock, {p.pid for p in procs}, timeout=180)
        assert blocked == {p.pid for p in procs}, [p.poll() for p in procs]
        # Every kernel compiles behind the lock: nothing of librosa's is in the cache yet.
        assert not list(cache.rglob("*.nbi")), sorted(cache.rglob("*"))
    finally:
        os.close(fd)
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err[-2000:] for _, err in outs]
    assert len({out for out, _ in outs}) == 1  # the same analysis, whichever process compiled
    assert os.path.exists(marker) and list(cache.rglob("*.nbi"))

    # The cache folder exists now, so the marker's key names it: the next first analysis
    # warms up under the lock once more (loads, compiles nothing) and marks that key.
    again = start(env)
    assert again.communicate(timeout=300)[0] == outs[0][0] and again.returncode == 0
    # The cache is whole: a later first analysis does not wait for a lock someone holds.
    fd = os.open(lock, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        late = start(env)
        out, err = late.communicate(timeout=300)
    finally:
        os.close(fd)
    assert late.returncode == 0, err[-2000:]
    assert out == outs[0][0]


def test_a_cache_folder_made_again_at_the_same_path_is_not_known_whole(tmp_path, monkeypatch):
    """A venv made again where the last one was (a fresh clone's `make`) has an empty cache
    at the same path: the old marker must not speak for it."""
    cache = tmp_path / "numba"
    cache.mkdir()
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(cache))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    lock, marker = numba_cache.paths()
    cache.rename(tmp_path / "numba-old")  # still there: the new folder cannot take its inode
    cache.mkdir()
    same_lock, other_marker = numba_cache.paths()
    assert same_lock == lock and other_marker != marker
