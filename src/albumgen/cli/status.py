"""albumgen status FILE"""
from __future__ import annotations

import shutil
from pathlib import Path

import click

from ..engine import runner
from ..engine.status import album_status
from .app import main


@main.command()
@click.argument("pipeline", type=click.Path(path_type=Path))
def status(pipeline: Path) -> None:
    """Show each stage and each track: takes done, pick, mastered."""
    ctx = runner.open_pipeline(pipeline)
    table = album_status(ctx)
    from rich.console import Console
    from rich.table import Table

    out = Table(title=f"{table['album']} ({ctx.album_dir})")
    for col in table["columns"]:
        out.add_column(col)
    for row in table["rows"]:
        out.add_row(*row)
    # Never narrower than 100 columns: piped into a log, rich would otherwise wrap at 80.
    Console(width=max(100, shutil.get_terminal_size().columns)).print(out)
    for line in table["summary"]:
        click.echo(line)
