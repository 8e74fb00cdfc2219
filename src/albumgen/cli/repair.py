"""albumgen repair FILE"""
from __future__ import annotations

from pathlib import Path

import click

from ..engine import runner
from .app import main


@main.command()
@click.argument("pipeline", type=click.Path(path_type=Path))
def repair(pipeline: Path) -> None:
    """Rebuild lost manifest records from the files on disk (nothing is rendered).

    Takes, the tracklist and picks carry a sidecar with their unit key and hashes; every
    one whose files are intact gets its record back. `build` does the same by itself when
    it finds the manifest damaged; this command does it without running any stage."""
    ctx = runner.open_pipeline(pipeline)
    if not ctx.album_dir.is_dir():  # nothing to recover from, and no folder to make for it
        click.echo(f"Nothing to repair: {ctx.album_dir} does not exist yet (albumgen build {pipeline} makes it)")
        return
    recovered = runner.repair(ctx)
    done = ", ".join(f"{name} {n}" for name, n in recovered.items() if n) or "none"
    click.echo(f"Repaired {ctx.album_dir} (records recovered: {done})")
