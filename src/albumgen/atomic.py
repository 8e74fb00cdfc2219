"""Atomic outputs, as luigi's Target.temporary_path: write beside, fsync, os.replace.

A reader (or a resumed build) sees either the old file or the whole new one, never half.
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Iterator


def temporary_path(path: Path) -> Path:
    # Same folder (os.replace is atomic only within a filesystem) and same suffix (ffmpeg
    # and soundfile pick the format from it). The pid keeps two writers apart.
    return path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")


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


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `path`, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n")
