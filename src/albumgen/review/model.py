"""What the review page shows, read from the album folder without the album lock.

A running build replaces manifest.json, the pick reports and every take atomically and
only appends to journal.jsonl and events.jsonl, so a reader always sees a whole earlier or a
whole later state (the record store's own promise to readers): it never needs the lock, and
never makes a build wait.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from .. import registry
from ..artifacts import Pick
from ..engine.store.manifest import Manifest
from ..stage import Context, Stage, TrackReport

EVENTS_SHOWN = 12


def fresh(ctx: Context) -> Context:
    """The same album with the manifest as it is on disk now."""
    return dataclasses.replace(ctx, manifest=Manifest(ctx.album_dir))


def version(ctx: Context) -> str:
    """Changes whenever anything the page shows changes: cheap enough to poll every second.
    A person's choice (`albumgen pick`, the page's own actions) is logged in events.jsonl."""
    parts = []
    manifest = ctx.album_dir / "manifest"
    for path in (manifest / "manifest.json", manifest / "journal.jsonl", manifest / "events.jsonl"):
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


def _track_summary(ctx: Context, t: dict, report: TrackReport | None = None) -> dict:
    report = report if report is not None else track_report(ctx, t["id"])
    pick = ctx.artifacts.pick(t["id"])
    out = {"id": t["id"], "n": t["n"], "title": t["title"], "prompt": t.get("prompt", ""),
           "takes": len(ctx.artifacts.takes(t["id"])), "pick": _pick_label(pick), "master": None,
           "pending": pending(report, pick)}
    if t.get("lyrics"):  # what the track sings (album.vocals: lyrics)
        out["lyrics"] = t["lyrics"]
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


def pending(report: TrackReport, pick: Pick | None) -> list[str]:
    """The choices a person made that the last build has not applied yet, in words."""
    out = []
    if report.chosen is not None and not (pick and pick.manual and pick.choice == report.chosen):
        out.append(f"take {report.chosen} kept by hand: the next build picks and masters it")
    elif report.chosen is None and pick is not None and pick.manual:
        out.append("back to the automatic pick at the next build")
    more = report.more_asked - (pick.more_takes if pick else 0)
    if more > 0:
        out.append(f"{more} more take{'s' * (more != 1)} asked for: the next build renders them")
    return out


def _reporters() -> list[Stage]:
    """The stages that report on tracks' takes (Stage.report): this module names none."""
    return [cls() for cls in registry.stage_classes() if cls.report is not Stage.report]


def track_report(ctx: Context, tid: str) -> TrackReport:
    """Every reporting stage's word on the track, as one report."""
    merged = TrackReport()
    for stage in _reporters():
        r = stage.report(ctx, tid)
        if r is None:
            continue
        merged.takes.update(r.takes)
        merged.skipped.update(r.skipped)
        merged.chosen = merged.chosen if merged.chosen is not None else r.chosen
        merged.more_asked += r.more_asked
    return merged


def track(ctx: Context, t: dict) -> dict:
    """The track view's data: every rendered take, with its verdict when a stage has one."""
    report = track_report(ctx, t["id"])
    summary = _track_summary(ctx, t, report)
    takes = []
    for take in ctx.artifacts.takes(t["id"]):
        if not take.wav:
            continue
        v = report.takes.get(take.take)
        takes.append({"take": take.take, "wav": take.wav, "sha256": take.wav_sha256, "seed": take.seed,
                      "seconds": _seconds(ctx.album_dir / take.wav),
                      "score": v.score if v else None, "rejects": v.rejects if v else [],
                      "warnings": v.warnings if v else [], "scored": v is not None})
    summary.update(takes=takes, skipped=report.skipped, override=report.chosen, more_takes=report.more_asked)
    return summary


def _seconds(path: Path) -> float | None:
    """A take's length from its header (a few bytes read), shown beside its player."""
    import soundfile

    try:
        return float(soundfile.info(str(path)).duration)
    except (OSError, RuntimeError, ValueError):
        return None


def progress(ctx: Context) -> dict:
    """Whether a build runs, units done per stage, and the latest events."""
    from ..engine.status import album_status

    try:
        summary = album_status(ctx)["summary"]
    except Exception as e:  # noqa: BLE001 - the page must show whatever state the album is in
        summary = [f"status unavailable: {e}"]
    events = ctx.manifest.last_events(EVENTS_SHOWN)
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
