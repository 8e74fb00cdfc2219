"""The page's actions: the choices stages offer (Stage.choices, applied by Stage.choose),
which are the same library calls as `albumgen pick`, so the next `build` does exactly what
the CLI would have made it do.

A build holding the album lock refuses them (HTTP 409): a stage writes choices under that
lock, and a running build reads them. Queuing them in the server instead would
lose them when the server stops and leave the page unsure whether they applied; refusing
leaves nothing half-done, and the page says to try again when the build has finished.
"""
from __future__ import annotations

from .. import registry
from ..errors import AlbumgenError, LockError
from ..stage import Context
from . import model


def owners() -> dict[str, type]:
    """Action name -> the stage that offers it (Stage.choices): this module names none."""
    return {action: cls for cls in registry.stage_classes() for action in cls.choices}


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
    offered = owners()
    if action not in offered:
        raise ActionRefused(400, f"unknown action {action!r} (use one of: {', '.join(offered)})")
    if not isinstance(ref, str) or model.find_track(ctx, ref) is None:
        raise ActionRefused(400, f"no track {ref!r} in this album")
    stage = offered[action]
    field = stage.choices[action]
    value = _whole(body.get(field), field) if field else None
    try:
        return stage().choose(ctx, ref, action, value)
    except LockError as e:
        raise ActionRefused(409, f"{e}; nothing was changed, try again when the build has finished") from None
    except AlbumgenError as e:
        raise ActionRefused(400, str(e)) from None
