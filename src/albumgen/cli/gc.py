"""albumgen gc FILE"""
from __future__ import annotations

from pathlib import Path

import click

from ..engine import runner
from ..engine.store import trash
from ..inputs import human_size
from .app import main


@main.command()
@click.argument("pipeline", type=click.Path(path_type=Path))
def gc(pipeline: Path) -> None:
    """Empty the album's trash (manifest/trash).

    Outputs a config change made stale (fewer takes or tracks, a renamed track) wait there
    instead of being deleted: changing the config back brings them back without rendering.
    This deletes them for good."""
    ctx = runner.open_pipeline(pipeline, progress=False)
    if not trash.trash_dir(ctx.album_dir).exists():
        click.echo(f"Nothing in the trash of {ctx.album_dir}")
        return
    files, size = trash.empty(ctx.manifest)
    click.echo(f"Emptied the trash of {ctx.album_dir}: {files} file{'' if files == 1 else 's'}, {human_size(size)} freed")
