"""albumgen build FILE"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from .. import interrupt, runner
from ..errors import AlbumgenError
from ..interrupt import Interrupted
from . import main


@main.command()
@click.argument("pipeline", type=click.Path(path_type=Path))
@click.option("--until", metavar="STAGE", help="Stop after this stage.")
@click.option("--force", "force", multiple=True, metavar="STAGE", help="Redo every unit of STAGE (repeatable).")
@click.option("--dry-run", is_flag=True, help="Show what would run, write nothing.")
def build(pipeline: Path, until: str | None, force: tuple[str, ...], dry_run: bool) -> None:
    """Build (or resume) the album a pipeline describes."""
    ctx = runner.open_pipeline(pipeline, progress=sys.stderr.isatty())
    if dry_run:
        report = runner.dry_run(ctx, until, force)
        click.echo(f"Album folder: {report.album_dir}")
        for name, rep in report.stages.items():
            if rep.waiting_on:
                click.echo(f"  {name:8} waits on {rep.waiting_on}")
            else:
                click.echo(f"  {name:8} would run {rep.ran} of {rep.planned} units ({rep.skipped} up to date)")
        return
    with interrupt.stop_on_signals():
        try:
            report = runner.build(ctx, until, force)
        except (Interrupted, AlbumgenError) as e:
            # A Ctrl-C in a terminal also reaches ffmpeg, whose failure is then only an echo of it.
            if isinstance(e, AlbumgenError) and not interrupt.requested():
                raise
            takes = len(ctx.artifacts.takes())
            raise Interrupted(f"kept {takes} take{'' if takes == 1 else 's'}; "
                              f"run the same build again to resume") from None
    if report.ran == 0:
        click.echo(f"Nothing to do: every unit is up to date in {report.album_dir}")
    else:
        done = ", ".join(f"{n} {r.ran}" for n, r in report.stages.items() if r.ran)
        click.echo(f"Built {report.album_dir} (units run: {done})")

