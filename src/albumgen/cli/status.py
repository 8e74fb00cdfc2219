"""albumgen status FILE"""
from __future__ import annotations

import shutil
from pathlib import Path

import click

from ..engine import runner
from ..engine.status import album_status
from .app import main

MISSING_EXIT = 3  # the album has files but no records: an input (the manifest) is missing


@main.command()
@click.argument("pipeline", type=click.Path(path_type=Path))
def status(pipeline: Path) -> None:
    """Show whether a build is running, each stage and each track (takes done, pick,
    mastered), and the choices waiting for the next build.

    Exit 0, also for an album not built yet; 3 when the album's files are there but its
    manifest is lost (`albumgen repair` rebuilds it)."""
    ctx = runner.open_pipeline(pipeline, progress=False)
    st = album_status(ctx)
    if st.state == "not built":
        click.echo(f"{st.album}: not built yet: run albumgen build {pipeline}")
        return
    if st.state == "manifest missing":
        click.echo(f"{st.album}: manifest missing: run albumgen repair {pipeline}")
        raise SystemExit(MISSING_EXIT)
    if st.state == "manifest damaged":
        click.echo(f"{st.album}: manifest damaged ({'; '.join(st.summary)}): run albumgen repair {pipeline}")
        raise SystemExit(MISSING_EXIT)
    if st.running is not None:
        click.echo(st.running.line())
    from rich.console import Console
    from rich.table import Table

    out = Table(title=f"{st.album} ({ctx.album_dir})")
    for col in st.columns:
        out.add_column(col)
    for row in st.rows:
        out.add_row(*row)
    # Never narrower than 100 columns: piped into a log, rich would otherwise wrap at 80.
    # Captured, then written as every other line: rich would end a closed pipe with exit 1.
    console = Console(width=max(100, shutil.get_terminal_size().columns))
    with console.capture() as table:
        console.print(out)
    click.echo(table.get(), nl=False)
    for line in st.summary:
        click.echo(line)
    if st.pending:
        click.echo("Waiting for the next build:")
        for line in st.pending:
            click.echo(f"  {line}")
