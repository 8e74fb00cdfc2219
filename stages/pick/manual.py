"""`albumgen pick`: a person's choice of take, kept across builds.

The CLI reaches this through the stage class (the engine imports stages only through
the registry). Writing happens under the album lock, so a running build never reads a
half-made overrides file and two `albumgen pick` calls never lose each other's choice.
"""
from __future__ import annotations

from albumgen.engine.store.manifest import AlbumLock
from albumgen.engine.store.recovery import read_body
from albumgen.errors import InputError, StageError
from albumgen.stage import Context

from . import overrides

# One request's ceiling: a typo (100 for 10) should not queue hours of GPU time.
MAX_MORE = 32


def resolve_track(ctx: Context, ref: str) -> dict:
    """A track by number ("3") or id ("t03")."""
    tracklist = ctx.artifacts.tracklist()
    if tracklist is None:
        raise StageError(f"{ctx.album_dir} has no tracklist yet", "run `albumgen build` first")
    tracks = [t.model_dump() for t in tracklist.tracks]
    for t in tracks:
        if ref == t["id"] or (ref.isdigit() and int(ref) == t["n"]):
            return t
    raise InputError(f"no track {ref!r} in this album (tracks 1-{len(tracks)})", "pass a track number or id")


def rendered_takes(ctx: Context, tid: str) -> list[int]:
    return [t.take for t in ctx.artifacts.takes(tid)]


def set_choice(ctx: Context, ref: str, take: int | None) -> tuple[dict, int | None]:
    """Record `take` for the track (None: back to the automatic pick)."""
    track = resolve_track(ctx, ref)
    if take is not None:
        have = rendered_takes(ctx, track["id"])
        if take not in have:
            listed = ", ".join(map(str, have)) or "none yet"
            raise InputError(f"track {track['n']} has no take {take} (rendered: {listed})", "pick a rendered take")
    ctx.manifest.ensure_writable()
    with AlbumLock(ctx.manifest.dir):
        current = overrides.load(ctx.album_dir)
        if take is None:
            current.pop(track["id"], None)
        else:
            current[track["id"]] = take
        overrides.save(ctx.album_dir, current)
    ctx.manifest.event("pick_override", track=track["id"], take=take)
    return track, take


def request_takes(ctx: Context, ref: str, count: int) -> tuple[dict, int]:
    """Ask render for `count` more takes of the track on the next build; returns the total
    asked for by hand so far. The pick stage turns it into its record's extra_takes (which
    render reads), so the takes render exactly as pick's own retry takes do."""
    track = resolve_track(ctx, ref)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_MORE:
        raise InputError(f"more takes must be a whole number from 1 to {MAX_MORE}, got {count!r}",
                         "ask for fewer, several times if need be")
    ctx.manifest.ensure_writable()
    with AlbumLock(ctx.manifest.dir):
        more = overrides.load_more(ctx.album_dir)
        more[track["id"]] = more.get(track["id"], 0) + count
        overrides.save(ctx.album_dir, overrides.load(ctx.album_dir), more)
    ctx.manifest.event("pick_more_takes", track=track["id"], count=count, total=more[track["id"]])
    return track, more[track["id"]]


def describe(ctx: Context, ref: str) -> dict:
    """The track's pick report (manifest/picks/<track>.json), or a StageError before one exists."""
    track = resolve_track(ctx, ref)
    path = ctx.work_dir("pick") / f"{track['id']}.json"
    if not path.exists():
        raise StageError(f"track {track['n']} has not been picked yet", "run `albumgen build` first")
    report = read_body(path)  # without the recovery block
    report["override"] = overrides.load(ctx.album_dir).get(track["id"])
    return report
