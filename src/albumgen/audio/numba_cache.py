"""librosa's compiled kernels, written to numba's cache by one process at a time.

librosa compiles its kernels with numba's `cache=True`. When two processes compile the same
`guvectorize` kernel at once on a fresh cache (a pool's workers warming up side by side
right after an install, or test processes), numba can keep the kernel from one process and
its gufunc wrapper from the other, under different symbol names; every later process that
loads that cache then dies of a segmentation fault in the kernel's first call (numba issue
10128, open). So before its first analysis a process compiles or loads every kernel the
analysis uses while it holds an exclusive lock. Once one process has done that, a marker
says the cache is whole, and later processes go straight on (no queue of workers at every
start-up).
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
from collections.abc import Callable

_whole = False  # this process has compiled or loaded the kernels


def compile_once(kernels: Callable[[], None]) -> None:
    """Run `kernels` (calls that compile every kernel) alone on this machine, unless the
    cache is known whole; once per process."""
    global _whole
    if _whole:
        return
    lock, marker = paths()
    if not os.path.exists(marker):
        with _locked(lock):
            if not os.path.exists(marker):  # another process may have finished while this one waited
                kernels()
                with contextlib.suppress(OSError):
                    open(marker, "w").close()
    _whole = True


def paths() -> tuple[str, str]:
    """The lock and the marker, per user, in the temp folder. The cache is per machine
    (librosa's __pycache__, or NUMBA_CACHE_DIR), so the marker names the versions and the
    very folders it speaks for, by inode too: a venv made again at the same path (a fresh
    clone's `make`) has a new librosa and an empty cache that a marker naming only the path
    would call whole. A reboot that clears the temp folder costs one locked warm-up."""
    import librosa
    import numba

    here = os.path.dirname(librosa.__file__)
    cache = os.environ.get("NUMBA_CACHE_DIR", "")
    key = "|".join((numba.__version__, librosa.__version__, here, _identity(here),
                    _identity(os.path.join(here, "util", "__pycache__")), cache, _identity(cache) if cache else "",
                    sys.version))
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    uid = os.getuid() if hasattr(os, "getuid") else 0
    base = os.path.join(tempfile.gettempdir(), f"albumgen-numba-{uid}")
    return base + ".lock", f"{base}-{digest}.whole"


def _identity(path: str) -> str:
    """Which folder this is, not only where: a folder made again gets another inode."""
    try:
        st = os.stat(path)
    except OSError:
        return "-"
    return f"{st.st_dev}:{st.st_ino}"


@contextlib.contextmanager
def _locked(path: str):
    try:
        import fcntl

        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except (ImportError, OSError):  # no flock (Windows) or an unwritable temp folder: as numba alone would
        yield
        return
    try:
        with contextlib.suppress(OSError):  # ENOLCK and kin: a lock the filesystem cannot give stops nothing
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing drops the lock
