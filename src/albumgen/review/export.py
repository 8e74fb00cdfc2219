"""`albumgen review --export`: the album and every track's takes, to share. No actions, no
polling, no install hints.

- `--export DIR`: a folder (index.html, audio/, pictures/) that works when zipped and sent;
  takes travel as MP3, masters as they are.
- `--export OUT.html --embed`: one file with every picture and sound inside it.
- `--export OUT.html`: one file whose players link into the album folder by relative path:
  it works beside (or inside) the album folder, not sent alone.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from ..artifacts import parse_take_id
from ..engine.store import atomic
from ..errors import ConfigError, OutputError, StageError
from ..stage import Context
from . import model, pages, pictures
from .urls import EmbedUrls, ExportUrls, FolderUrls

HTML = (".html", ".htm")


def export(ctx: Context, out: Path, embed: bool = False, pipeline: Path | str | None = None) -> Path:
    """Write the export; returns the file (or, for a folder, its index.html) written."""
    ctx = model.fresh(ctx)
    out = Path(out).resolve()
    if ctx.artifacts.tracklist() is None:
        raise StageError(f"{ctx.album_dir} has no tracklist yet", "run `albumgen build` first")
    single = out.suffix.lower() in HTML
    if embed and not single:
        raise ConfigError(f"--embed writes one file, but {out.name} is not an .html name",
                          "pass --export NAME.html --embed, or --export DIR without --embed for a folder")
    if not single and out.exists() and not out.is_dir():
        raise OutputError(f"{out} is a file, not a folder", "name a folder, or an .html file with --embed")

    def picture(kind: str, unit: str) -> Path:
        if kind == "take":
            take = ctx.artifacts.take(*parse_take_id(unit))
            rel, sha = take.wav, take.wav_sha256
        else:
            rel, sha, _ = model.master_file(ctx, unit)
        return pictures.cached_picture(ctx.album_dir, kind, rel, sha)

    command = f"albumgen build {pipeline}" if pipeline else ""
    try:
        with tempfile.TemporaryDirectory(prefix="albumgen-export-") as scratch:
            if embed:
                urls = EmbedUrls(ctx.album_dir, out.parent, picture, Path(scratch))
            elif single:
                urls = ExportUrls(ctx.album_dir, out.parent, picture)
            else:
                urls = FolderUrls(ctx.album_dir, out, picture)
                out = out / "index.html"
            album = model.album(ctx)
            tracks = [model.track(ctx, t) for t in model.tracks(ctx)]
            atomic.write_text(out, pages.export_document(album, tracks, urls, command))
    except OSError as e:
        raise OutputError(f"cannot write {out}: {e.strerror}", "pick a folder you can write") from None
    return out
