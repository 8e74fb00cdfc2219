"""`albumgen review --export review.html`: the album and every track's takes in one file to
share. Pictures are inline; audio is linked by relative path into the album folder, so
the file works wherever it sits beside (or inside) the album folder. No actions."""
from __future__ import annotations

from pathlib import Path

from ..artifacts import parse_take_id
from ..engine.store import atomic
from ..errors import OutputError, StageError
from ..stage import Context
from . import model, pages, pictures


def export(ctx: Context, out: Path) -> Path:
    ctx = model.fresh(ctx)
    out = Path(out).resolve()
    if ctx.artifacts.tracklist() is None:
        raise StageError(f"{ctx.album_dir} has no tracklist yet", "run `albumgen build` first")

    def picture(kind: str, unit: str) -> Path:
        if kind == "take":
            take = ctx.artifacts.take(*parse_take_id(unit))
            rel, sha = take.wav, take.wav_sha256
        else:
            rel, sha, _ = model.master_file(ctx, unit)
        return pictures.cached_picture(ctx.album_dir, kind, rel, sha)

    urls = pages.ExportUrls(ctx.album_dir, out.parent, picture)
    album = model.album(ctx)
    tracks = [model.track(ctx, t) for t in model.tracks(ctx)]
    try:
        atomic.write_text(out, pages.export_document(album, tracks, urls))
    except OSError as e:
        raise OutputError(f"cannot write {out}: {e.strerror}", "pick a folder you can write") from None
    return out
