"""The event log, in segments: events.jsonl is the live one; when it passes SEGMENT_BYTES it
becomes events.jsonl.1 (the one before becomes .2, and so on), and only KEEP old segments
stay. A build that runs for a week, or a long catalogue, keeps at most (KEEP + 1) x
SEGMENT_BYTES of events per album, and a reader that wants the last few events reads from
the end of the live segment, going back into older ones only as far as it needs.

Lines are whole in every segment: a segment is only ever renamed, between two appends,
never cut. A reader that lists the segments while a writer rotates may read one segment
twice or miss one; every reader here is a view (status, the review page, benches), so that
costs a line of history at worst, never a record (the records live in the journal).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path

SEGMENT_BYTES = 4 << 20  # a live segment past this size is rotated at the next event
KEEP = 4  # old segments kept: events.jsonl.1 (newest) .. events.jsonl.KEEP (oldest)


def segments(path: Path) -> list[Path]:
    """The log's segments that exist, oldest first, the live one last."""
    old = [path.with_name(f"{path.name}.{n}") for n in range(KEEP + 8, 0, -1)]  # a larger KEEP once: read all
    return [p for p in old if p.exists()] + ([path] if path.exists() else [])


def rotate_if_full(path: Path, limit: int | None = None, keep: int | None = None) -> bool:
    """Rotate the live segment if it is `limit` bytes or more: .KEEP is dropped, every old
    segment moves one up, the live one becomes .1. Two writers (a build and a choice made
    on the review page) never rotate at once: the one that does holds a lock on the live
    segment, and the other finds it already small, or skips. True if it rotated."""
    limit = SEGMENT_BYTES if limit is None else limit
    keep = max(1, KEEP if keep is None else keep)
    try:
        if os.stat(path).st_size < limit:
            return False
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # another writer is rotating it now
        try:  # still the live segment, and still full (another writer may have rotated it just now)
            if os.stat(path).st_ino != os.fstat(fd).st_ino or os.fstat(fd).st_size < limit:
                return False
        except OSError:
            return False
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path.with_name(f"{path.name}.{keep}"))
        for n in range(keep - 1, 0, -1):
            with contextlib.suppress(FileNotFoundError):
                os.replace(path.with_name(f"{path.name}.{n}"), path.with_name(f"{path.name}.{n + 1}"))
        os.replace(path, path.with_name(f"{path.name}.1"))
        return True
    finally:
        os.close(fd)


def parse(data: bytes) -> list[dict]:
    out = []
    for line in data.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:  # a torn line (a killed writer): only that line is lost
            continue
    return out


def read_all(path: Path) -> list[dict]:
    """Every event kept, oldest first, across the segments."""
    out: list[dict] = []
    for seg in segments(path):
        with contextlib.suppress(OSError):
            out += parse(seg.read_bytes())
    return out


def read_last(path: Path, n: int) -> list[dict]:
    """The last `n` events, read from the end: the live segment first, older segments only
    while there are fewer than `n`."""
    if n <= 0:
        return []
    out: list[dict] = []
    for seg in reversed(segments(path)):
        out = _tail(seg, n - len(out)) + out
        if len(out) >= n:
            break
    return out[-n:]


def read_since(path: Path, event: str) -> list[dict]:
    """The events from the last `event` on (the last build_start: what the running build
    did), reading back only as many segments as that takes; all that is kept if none is."""
    out: list[dict] = []
    for seg in reversed(segments(path)):
        try:
            events = parse(seg.read_bytes())
        except OSError:
            continue
        out = events + out
        for i in range(len(events) - 1, -1, -1):
            if events[i].get("event") == event:
                return out[i:]
    return out


def _tail(path: Path, n: int) -> list[dict]:
    try:
        f = open(path, "rb")
    except OSError:
        return []
    with f:
        end = f.seek(0, os.SEEK_END)
        tail, start = b"", end
        while start > 0 and tail.count(b"\n") <= n:
            start = max(0, start - 8192)
            f.seek(start)
            tail = f.read(end - start)
    lines = tail.splitlines()[1:] if start > 0 else tail.splitlines()  # the first may be cut
    return parse(b"\n".join(lines[-n:]))
