"""`albumgen pick`: a person's choice of take, kept across builds.

The CLI reaches this through the stage class (the engine imports stages only through
the registry). Writing happens under the album lock, so a running build never reads a
half-made overrides file and two `albumgen pick` calls never lose each other's choice.
"""
from __future__ import annotations

from albumgen.errors import InputError, StageError
from albumgen.manifest import AlbumLock
from albumgen.recovery import read_body
from albumgen.stage import Context

from . import overrides


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


def describe(ctx: Context, ref: str) -> dict:
    """The track's pick report (manifest/picks/<track>.json), or a StageError before one exists."""
    track = resolve_track(ctx, ref)
    path = ctx.work_dir("pick") / f"{track['id']}.json"
    if not path.exists():
        raise StageError(f"track {track['n']} has not been picked yet", "run `albumgen build` first")
    report = read_body(path)  # without the recovery block
    report["override"] = overrides.load(ctx.album_dir).get(track["id"])
    return report
