"""What `albumgen status` says, from the album folder alone: whether a build is running (and
how far it is), whether the album was ever built or lost its manifest, one row per track, one
line per stage, and what waits for the next build. Titles come from the Tracklist artifact;
the stages' own cells, units and pending choices from their hooks, so this module names no
stage."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AlbumgenError
from ..inputs import human_size
from ..sizes import counted
from ..stage import Context, NotReady, Stage
from . import runner
from .store import trash

# Files a build writes before any unit is done: alone they are no album to repair.
BOOKKEEPING = {"manifest/lock", "manifest/events.jsonl", "manifest/notices.json", "manifest/manifest.json",
               "manifest/journal.jsonl"}


@dataclass
class Running:
    pid: int
    started: float | None  # epoch seconds of the build's start, from its events
    done: int = 0
    total: int = 0
    noun: str = "units"
    eta: float | None = None  # seconds

    def line(self) -> str:
        parts = [f"pid {self.pid}"]
        if self.started is not None:
            parts.append(f"started {time.strftime('%H:%M', time.localtime(self.started))}")
        if self.total:
            parts.append(f"{self.done}/{self.total} {self.noun}")
        if self.eta is not None:
            minutes = int(round(self.eta / 60))
            parts.append(f"ETA {minutes // 60}:{minutes % 60:02d}")
        return f"build running ({', '.join(parts)})"


@dataclass
class AlbumStatus:
    album: str
    state: str  # "not built", "manifest missing", "manifest damaged", "running", "built"
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # choices made, waiting for the next build
    running: Running | None = None

    def __getitem__(self, name: str):  # status["rows"], as callers read it when it was a dict
        return getattr(self, name)


def album_status(ctx: Context) -> AlbumStatus:
    album = ctx.config.album.title or ctx.album_dir.name
    holder = lock_holder(ctx.manifest.dir)
    if holder is None and not _has_records(ctx):
        # Nothing recorded: never built, or built and its manifest lost (files but no records).
        lost = any(p.is_file() and _album_file(p.relative_to(ctx.album_dir).as_posix())
                   for p in (ctx.album_dir.rglob("*") if ctx.album_dir.is_dir() else ()))
        if lost and ctx.manifest.damage:  # there, but unreadable (cut short by a full disk, edited)
            return AlbumStatus(album, "manifest damaged", summary=list(ctx.manifest.damage))
        return AlbumStatus(album, "manifest missing" if lost else "not built")
    stages = runner.select_stages(None)
    shown = [s for s in stages if type(s).status is not Stage.status]
    cells = {s.name: s.status(ctx) for s in shown}
    tracklist = ctx.artifacts.tracklist()
    rows = [[t.id, t.title] + [cells[s.name].get(t.id, "-") for s in shown]
            for t in (tracklist.tracks if tracklist else [])]
    out = AlbumStatus(tracklist.album_title if tracklist else album, "running" if holder else "built",
                      ["track", "title"] + [s.name for s in shown], rows)
    progress: tuple[int, int, str] | None = None
    for s in stages:
        try:
            units = runner.plan_stage(s, ctx)
        except NotReady as e:
            out.summary.append(f"{s.name}: waits on {e.needs}")
            continue
        except AlbumgenError as e:  # an input gone (the prompts file moved): what is built still shows
            out.summary.append(f"{s.name}: the next build stops here: {e}")
            continue
        waiting = len(getattr(units, "waiting", ()))
        if not units and not waiting:  # a stage this pipeline leaves off (decode without render.decoder: mbd)
            continue
        done = sum(ctx.manifest.is_done(u.key, s.name, u.id) for u in units)
        out.summary.append(f"{s.name}: {done}/{len(units)} {s.units_are} done"
                           + (f", {counted(waiting, 'track')} waiting" if waiting else ""))
        if s.resources == "device" and progress is None:  # the album's long part: what an ETA is of
            progress = (done, len(units), s.units_are, s.name)
        out.pending += s.pending(ctx)
    files, size = trash.usage(ctx.album_dir)
    if files:
        out.summary.append(f"trash: {counted(files, 'file')} ({human_size(size)}) a config change left behind; "
                           "`albumgen gc` deletes them")
    if holder is not None:
        out.running = _running(ctx, holder, progress)
    else:
        ctx.manifest.save_mtimes()  # outputs copied with new mtimes are hashed once, not by every status
    return out


def _album_file(rel: str) -> bool:
    """Not bookkeeping (nor an old segment of the event log, events.jsonl.N)."""
    return rel not in BOOKKEEPING and not rel.startswith("manifest/events.jsonl.")


def _has_records(ctx: Context) -> bool:
    return bool(ctx.manifest.state.records)


def _running(ctx: Context, pid: int, progress) -> Running:
    """The build holding the album: when it started (its last build_start event), how far the
    device stage is, and an ETA from the pace of its finished units in this build."""
    since = ctx.manifest.events_since("build_start")  # read back only as far as this build's start
    since = since if since and since[0].get("event") == "build_start" else []
    run = Running(pid, since[0]["ts"] if since else None)
    if progress is None:
        return run
    run.done, run.total, run.noun, stage = progress
    finished = [e["ts"] for e in since if e.get("event") == "unit_done" and e.get("stage") == stage]
    submitted = [e["ts"] for e in since if e.get("event") == "units_submitted" and e.get("stage") == stage]
    if finished and submitted:
        pace = (time.time() - submitted[0]) / len(finished)  # seconds per unit, waits included
        run.eta = max(0.0, run.total - run.done) * pace
    return run


def lock_holder(manifest_dir: Path) -> int | None:
    """The pid of the build holding the album, without touching the lock: taking it even for a
    moment could make a build that starts at that instant refuse to run. The pid is the one
    the holder wrote into the lock file; it holds only while that process is alive and, where
    the kernel lists its locks (/proc/locks), while a lock on that file is listed."""
    path = Path(manifest_dir) / "lock"
    try:
        st = os.stat(path)
        pid = int(path.read_text("utf-8").strip() or 0)
    except (OSError, ValueError):
        return None
    if pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, another user's
        pass
    try:
        table = Path("/proc/locks").read_text()
    except OSError:
        return pid  # no lock table to ask (macOS): a live pid it is
    want = (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
    for line in table.splitlines():
        fields = line.split()
        if "FLOCK" not in fields or len(fields) < 6:
            continue
        try:
            major, minor, inode = fields[5].split(":")
            if (int(major, 16), int(minor, 16), int(inode)) == want:
                return pid
        except ValueError:
            continue
    return None
