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

from ..manifest import Manifest
from ..recovery import read_body
from ..stage import Context

OVERRIDES = "manifest/picks/overrides.json"
EVENTS_SHOWN = 12


def fresh(ctx: Context) -> Context:
    """The same album with the manifest as it is on disk now."""
    return dataclasses.replace(ctx, manifest=Manifest(ctx.album_dir))


def version(album_dir: Path) -> str:
    """Changes whenever anything the page shows changes: cheap enough to poll every second."""
    parts = []
    for rel in ("manifest/manifest.json", "manifest/journal.jsonl", "manifest/events.jsonl", OVERRIDES):
        try:
            st = (Path(album_dir) / rel).stat()
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


def album(ctx: Context) -> dict:
    """The album view's data; `ctx` should be fresh()."""
    man = ctx.manifest
    rec = man.record("prompts", "tracklist")
    tracks = rec.data["tracks"] if rec else []
    title = rec.data["album_title"] if rec else (ctx.config.album.title or ctx.album_dir.name)
    cover = "cover.jpg" if (ctx.album_dir / "cover.jpg").is_file() else None
    return {"title": title, "artist": ctx.config.album.artist, "cover": cover,
            "tracks": [_track_summary(ctx, t) for t in tracks]}


def _track_summary(ctx: Context, t: dict) -> dict:
    man = ctx.manifest
    pick = man.record("pick", t["id"])
    master = man.record("master", t["id"])
    out = {"id": t["id"], "n": t["n"], "title": t["title"], "prompt": t.get("prompt", ""),
           "takes": len(_take_records(ctx, t["id"])), "pick": _pick_label(pick), "master": None}
    if master is not None and "file" in master.data:
        rel = master.data["file"]
        ref = master.outputs.get(rel)
        out["master"] = {"file": rel, "sha256": ref.sha256 if ref else None,
                         "loudness": master.data.get("loudness"), "true_peak": master.data.get("true_peak"),
                         "duration": master.data.get("duration"), "take": master.data.get("take")}
    return out


def _pick_label(pick) -> dict | None:
    """How the chosen take came to be: the words `albumgen status` uses."""
    if pick is None:
        return None
    how = "manual" if pick.data.get("manual") else "all rejected" if pick.data.get("all_rejected") else "auto"
    return {"take": pick.data["choice"], "how": how, "more_takes": int(pick.data.get("more_takes", 0))}


def _take_records(ctx: Context, tid: str) -> list:
    recs = [r for r in ctx.manifest.records("render") if r.unit.startswith(f"{tid}/take-")]
    return sorted(recs, key=lambda r: int(r.unit.split("take-")[1]))


def track(ctx: Context, t: dict) -> dict:
    """The track view's data: every rendered take, with its scores when pick has seen it."""
    summary = _track_summary(ctx, t)
    report = _pick_report(ctx, t["id"])
    scored = {s["take"]: s for s in report.get("takes", [])}
    manual, more = _overrides(ctx.album_dir)
    takes = []
    for rec in _take_records(ctx, t["id"]):
        n = int(rec.unit.split("take-")[1])
        wav = next((rel for rel in rec.outputs if rel.endswith(".wav")), None)
        if wav is None:
            continue
        s = scored.get(n)
        takes.append({"take": n, "wav": wav, "sha256": rec.outputs[wav].sha256, "seed": rec.data.get("seed"),
                      "score": s["score"] if s else None, "rejects": s["rejects"] if s else [],
                      "warnings": s["warnings"] if s else [], "scored": s is not None})
    summary.update(takes=takes, skipped=report.get("skipped", {}), override=manual.get(t["id"]),
                   more_takes=more.get(t["id"], 0))
    return summary


def _pick_report(ctx: Context, tid: str) -> dict:
    try:
        return read_body(ctx.album_dir / f"manifest/picks/{tid}.json")
    except (OSError, ValueError):
        return {}


def _overrides(album_dir: Path) -> tuple[dict, dict]:
    """The overrides file as the page shows it; a malformed one is the pick stage's to
    report (at the next build or action), not a reason for the page to fail."""
    try:
        raw = json.loads((Path(album_dir) / OVERRIDES).read_text("utf-8"))
        return dict(raw.get("tracks", {})), dict(raw.get("more_takes", {}))
    except (OSError, ValueError, AttributeError):
        return {}, {}


def progress(ctx: Context) -> dict:
    """Whether a build runs, units done per stage, and the latest events."""
    from ..status import album_status

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
    rec = ctx.manifest.record("prompts", "tracklist")
    tracks = rec.data["tracks"] if rec else []
    out = []
    for t in tracks:
        m = ctx.manifest.record("master", t["id"])
        rel = m.data.get("file") if m else None
        if rel in (m.outputs if m else {}):
            out.append(("master", rel, m.outputs[rel].sha256))
    for t in tracks:
        for r in _take_records(ctx, t["id"]):
            wav = next((x for x in r.outputs if x.endswith(".wav")), None)
            if wav:
                out.append(("take", wav, r.outputs[wav].sha256))
    return out
