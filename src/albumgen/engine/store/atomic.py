"""Atomic outputs, as luigi's Target.temporary_path: write beside, fsync, os.replace.

A reader (or a resumed build) sees either the old file or the whole new one, never half.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...errors import OutputError
from ...sizes import human_size

# The write failures that mean "no room", not a bug: map them to the output error (exit 7).
DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def temporary_path(path: Path) -> Path:
    # Same folder (os.replace is atomic only within a filesystem) and same suffix (ffmpeg
    # and soundfile pick the format from it). The pid keeps two writers apart.
    return path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")


# What temporary_path makes: ".<stem>.tmp<pid><suffix>".
_TEMPORARY = re.compile(r"^\..+\.tmp(\d+)(\.[^.]*)?$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: a live process of another user
        return True
    # A zombie answers kill(0) too: a killed build's workers are orphans, and where nothing
    # reaps orphans (a container whose first process is not an init) they stay zombies.
    if not os.path.isdir("/proc/self"):  # no /proc (macOS): kill(0) has the last word
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[0] not in (b"Z", b"X")
    except FileNotFoundError:  # it ended just now
        return False
    except (OSError, IndexError):
        return True


def sweep_temporaries(folder: Path) -> list[Path]:
    """Remove the temporaries a killed writer left under `folder` (SIGKILL skips atomic_path's
    cleanup, so an MP3 killed mid-encode stays as a hidden .tmp file). Only those whose writer
    is gone: a live pid may be a review server saving a choice beside the build."""
    removed = []
    for path in Path(folder).rglob(".*.tmp*"):
        m = _TEMPORARY.match(path.name)
        if m and path.is_file() and not path.is_symlink() and not _alive(int(m.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def fsync_dir(folder: Path) -> None:
    # The rename itself lives in the directory entry; without this a power cut can lose it.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows cannot open directories; its rename is durable enough.
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def disk_full(e: OSError, path: Path | None, need: int = 0) -> OutputError:
    """One line for a write the disk refused: which file, in which folder, how much it needs."""
    folder = path.parent if path else None
    where = f"{path.name} in {folder}" if path else "the album"
    try:
        free = f", {human_size(shutil.disk_usage(folder or '.').free)} free there"
    except OSError:
        free = ""
    needs = f"; it needs {human_size(need)}" if need else ""
    if e.errno == errno.EFBIG:  # a per-file cap (ulimit -f, FAT32's 4 GB), not a full disk
        fix = "raise the file size limit (ulimit -f) or use another filesystem, then run the same build again"
    else:
        fix = (f"free at least {human_size(need) if need else 'some space'} there, then run the same build again"
               "; every finished unit is kept")
    return OutputError(f"cannot write {where}: {e.strerror or e}{needs}{free}", fix)


@contextlib.contextmanager
def atomic_path(path: Path, need: int = 0) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `path`, on error it is removed.
    `need`: the bytes the write will take, if known, for the message when the disk is full."""
    path = Path(path)
    tmp = temporary_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as e:
        if e.errno not in DISK_FULL:
            raise
        written = tmp.stat().st_size if tmp.exists() else 0
        raise disk_full(e, path, max(need, written)) from e
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path, need=len(data)) as tmp:
        tmp.write_bytes(data)


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n")
