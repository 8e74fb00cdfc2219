"""What the review page shows, read from the album folder without the album lock.

A running build replaces manifest.json, the pick reports and every take atomically and
only appends to journal.jsonl and events.jsonl, so a reader always sees a whole earlier or a
whole later state (the record store's own promise to readers): it never needs the lock, and
never makes a build wait.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from ..artifacts import Pick
from ..engine.store.manifest import Manifest
from ..engine.store.recovery import read_body
from ..stage import Context

OVERRIDES = "overrides.json"  # in pick's folder
EVENTS_SHOWN = 12


def fresh(ctx: Context) -> Context:
    """The same album with the manifest as it is on disk now."""
    return dataclasses.replace(ctx, manifest=Manifest(ctx.album_dir))


def version(ctx: Context) -> str:
    """Changes whenever anything the page shows changes: cheap enough to poll every second."""
    parts = []
    manifest = ctx.album_dir / "manifest"
    for path in (manifest / "manifest.json", manifest / "journal.jsonl", manifest / "events.jsonl",
                 _picks_dir(ctx) / OVERRIDES):
        try:
            st = path.stat()
            parts.append(f"{st.st_mtime_ns}:{st.st_size}")
        except OSError:
            parts.append("-")
    return "/".join(parts)


def running_build(album_dir: Path) -> int | None:
    """The pid of the build holding the album lock, found without taking the lock.

    Taking it, even for an instant, could make a build that starts at that moment fail
    with "album busy". Linux lists every flock in /proc/locks by inode; elsewhere a live
    pid in the lock file is the best sign there is.
    """
    lock = Path(album_dir) / "manifest" / "lock"
    try:
        pid = int(lock.read_text().strip() or 0)
        inode = lock.stat().st_ino
    except (OSError, ValueError):
        return None
    if not pid:
        return None
    try:
        with open("/proc/locks") as f:
            held = any(line.split()[1] == "FLOCK" and line.split()[5].split(":")[-1] == str(inode)
                       for line in f if len(line.split()) > 5)
        return pid if held else None
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def tracks(ctx: Context) -> list[dict]:
    tl = ctx.artifacts.tracklist()
    return [t.model_dump() for t in tl.tracks] if tl else []


def find_track(ctx: Context, tid: str) -> dict | None:
    return next((t for t in tracks(ctx) if t["id"] == tid), None)


def album(ctx: Context) -> dict:
    """The album view's data; `ctx` should be fresh()."""
    tl = ctx.artifacts.tracklist()
    title = tl.album_title if tl else (ctx.config.album.title or ctx.album_dir.name)
    cover = "cover.jpg" if (ctx.album_dir / "cover.jpg").is_file() else None
    return {"title": title, "artist": ctx.config.album.artist, "cover": cover,
            "tracks": [_track_summary(ctx, t) for t in tracks(ctx)]}


def master_file(ctx: Context, tid: str) -> tuple[str, str, dict] | None:
    """(album-relative file, its sha256, the measurements) of a mastered track. The record,
    not the Master artifact: the picture's key needs the file's recorded hash."""
    rec = ctx.manifest.record(ctx.artifacts.producers["master"], tid)
    rel = rec.data.get("file") if rec else None
    if rel is None or rel not in rec.outputs:
        return None
    return rel, rec.outputs[rel].sha256, rec.data


def _track_summary(ctx: Context, t: dict) -> dict:
    out = {"id": t["id"], "n": t["n"], "title": t["title"], "prompt": t.get("prompt", ""),
           "takes": len(ctx.artifacts.takes(t["id"])), "pick": _pick_label(ctx.artifacts.pick(t["id"])),
           "master": None}
    found = master_file(ctx, t["id"])
    if found:
        rel, sha, data = found
        out["master"] = {"file": rel, "sha256": sha, "loudness": data.get("loudness"),
                         "true_peak": data.get("true_peak"), "duration": data.get("duration"), "take": data.get("take")}
    return out


def _pick_label(pick: Pick | None) -> dict | None:
    """How the chosen take came to be: the words `albumgen status` uses."""
    if pick is None:
        return None
    how = "manual" if pick.manual else "all rejected" if pick.all_rejected else "auto"
    return {"take": pick.choice, "how": how, "more_takes": pick.more_takes}


def track(ctx: Context, t: dict) -> dict:
    """The track view's data: every rendered take, with its scores when pick has seen it."""
    summary = _track_summary(ctx, t)
    report = _pick_report(ctx, t["id"])
    scored = {s["take"]: s for s in report.get("takes", [])}
    manual, more = _overrides(ctx)
    takes = []
    for take in ctx.artifacts.takes(t["id"]):
        if not take.wav:
            continue
        s = scored.get(take.take)
        takes.append({"take": take.take, "wav": take.wav, "sha256": take.wav_sha256, "seed": take.seed,
                      "score": s["score"] if s else None, "rejects": s["rejects"] if s else [],
                      "warnings": s["warnings"] if s else [], "scored": s is not None})
    summary.update(takes=takes, skipped=report.get("skipped", {}), override=manual.get(t["id"]),
                   more_takes=more.get(t["id"], 0))
    return summary


def _picks_dir(ctx: Context) -> Path:
    return ctx.work_dir(ctx.artifacts.producers["pick"])


def _pick_report(ctx: Context, tid: str) -> dict:
    try:
        return read_body(_picks_dir(ctx) / f"{tid}.json")
    except (OSError, ValueError):
        return {}


def _overrides(ctx: Context) -> tuple[dict, dict]:
    """The overrides file (`albumgen pick`'s) as the page shows it; a malformed one is the
    pick stage's to report (at the next build or action), not a reason for the page to fail."""
    try:
        raw = json.loads((_picks_dir(ctx) / OVERRIDES).read_text("utf-8"))
        return dict(raw.get("tracks", {})), dict(raw.get("more_takes", {}))
    except (OSError, ValueError, AttributeError):
        return {}, {}


def progress(ctx: Context) -> dict:
    """Whether a build runs, units done per stage, and the latest events."""
    from ..engine.status import album_status

    try:
        summary = album_status(ctx)["summary"]
    except Exception as e:  # noqa: BLE001 - the page must show whatever state the album is in
        summary = [f"status unavailable: {e}"]
    events = ctx.manifest.events()[-EVENTS_SHOWN:]
    return {"build_pid": running_build(ctx.album_dir), "summary": summary,
            "events": [_event_line(e) for e in reversed(events)]}


def _event_line(e: dict) -> str:
    import time

    when = time.strftime("%H:%M:%S", time.localtime(e.get("ts", 0)))
    rest = " ".join(f"{k}={v}" for k, v in sorted(e.items()) if k not in ("ts", "event"))
    return f"{when} {e.get('event', '?')} {rest}".strip()


def picture_sources(ctx: Context) -> list[tuple[str, str, str]]:
    """(kind, audio file, its recorded sha256) of every picture the pages show: mastered
    tracks first (the album view), then each track's takes in album order."""
    ids = [t["id"] for t in tracks(ctx)]
    out = [("master", f[0], f[1]) for f in map(lambda tid: master_file(ctx, tid), ids) if f]
    out += [("take", take.wav, take.wav_sha256) for tid in ids for take in ctx.artifacts.takes(tid) if take.wav]
    return out
