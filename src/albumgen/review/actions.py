"""The page's three actions, through the same library calls as `albumgen pick`, so the next
`build` does exactly what the CLI would have made it do.

A build holding the album lock refuses them (HTTP 409): the pick overrides are written
under that lock, and a running build reads them. Queuing them in the server instead would
lose them when the server stops and leave the page unsure whether they applied; refusing
leaves nothing half-done, and the page says to try again when the build has finished.
"""
from __future__ import annotations

from .. import registry
from ..errors import AlbumgenError, LockError
from ..stage import Context
from . import model

ACTIONS = ("keep", "auto", "more")


class ActionRefused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _whole(value, name: str) -> int:
    # JSON true is an int to Python; a take number is not a boolean.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ActionRefused(400, f"{name} must be a whole number, got {value!r}")
    return value


def apply(ctx: Context, body: object) -> str:
    """Validate and apply one action; returns what happened, in words. Raises ActionRefused
    (400: a bad request, 409: a build holds the album) before anything is written."""
    if not isinstance(body, dict):
        raise ActionRefused(400, "the body must be a JSON object")
    action, ref = body.get("action"), body.get("track")
    if action not in ACTIONS:
        raise ActionRefused(400, f"unknown action {action!r} (use one of: {', '.join(ACTIONS)})")
    if not isinstance(ref, str) or model.find_track(ctx, ref) is None:
        raise ActionRefused(400, f"no track {ref!r} in this album")
    stage = registry.get("pick")
    try:
        if action == "keep":
            t, take = stage.set_choice(ctx, ref, _whole(body.get("take"), "take"))
            return f"Track {t['n']} will use take {take} (manual): the next build masters it"
        if action == "auto":
            t, _ = stage.set_choice(ctx, ref, None)
            return f"Track {t['n']} will use the automatic pick from the next build"
        count = _whole(body.get("count"), "count")
        t, total = stage.request_takes(ctx, ref, count)
        return f"Track {t['n']} will get {count} more take{'s' * (count != 1)} at the next build ({total} asked in all)"
    except LockError as e:
        raise ActionRefused(409, f"{e}; nothing was changed, try again when the build has finished") from None
    except AlbumgenError as e:
        raise ActionRefused(400, str(e)) from None
