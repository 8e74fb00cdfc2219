"""albumgen build FILE..."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from .. import console
from ..engine import catalogue, interrupt, runner
from ..engine.executors import guard
from ..engine.interrupt import Interrupted
from ..errors import AlbumgenError
from ..sizes import counted
from .app import error_line, main


@main.command()
@click.argument("pipelines", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="PIPELINE...")
@click.option("--until", metavar="STAGE", help="Stop after this stage.")
@click.option("--force", "force", multiple=True, metavar="STAGE", help="Redo every unit of STAGE (repeatable).")
@click.option("--dry-run", is_flag=True, help="Show what would run, write nothing.")
@click.option("--executor", type=click.Choice(["local", "ray"]),
              help="Where units run: local, or ray (needs albumgen[ray]; default: the pipeline's executor.kind).")
def build(pipelines: tuple[Path, ...], until: str | None, force: tuple[str, ...], dry_run: bool,
          executor: str | None) -> None:
    """Build (or resume) the albums the pipelines describe (several: a catalogue).

    Every pipeline is loaded and checked before any album is touched, so one bad config
    stops the run with nothing written."""
    ctxs = runner.open_pipelines(list(pipelines), progress=sys.stderr.isatty())
    if dry_run:
        for path, ctx in zip(pipelines, ctxs):
            with runner.errors_named(ctx, path if len(ctxs) > 1 else None):
                report = runner.dry_run(ctx, until, force)
            _show_dry_run(report)
        return
    if guard.wanted([executor or ctx.config.executor.kind for ctx in ctxs]):
        # Ray may end its driver process by itself: the build runs as a child this one outlives.
        for ctx in ctxs:  # ray not installed, no head at the address: said here, no child started
            runner.check_executor(ctx, executor)
        args = ["build", *map(str, pipelines), *(["--until", until] if until else []),
                *(a for stage in force for a in ("--force", stage)), *(["--executor", executor] if executor else [])]
        click_ctx = click.get_current_context()
        verbose = ["--verbose"] if click_ctx.find_root().params.get("verbose") else []
        click_ctx.exit(guard.supervise(verbose + args, [c.album_dir for c in ctxs]))
    runner.preflight_all(ctxs, until, force, executor, pipelines=list(pipelines))
    if len(ctxs) == 1:
        # On a terminal: one live progress block, log lines above it (albumgen.console).
        with console.live():
            report = _build_one(ctxs[0], until, force, executor)
        _say_built(report)
        return
    _build_catalogue(list(zip(pipelines, ctxs)), until, force, executor)


def _say_built(report: runner.BuildReport) -> None:
    if report.ran == 0:
        click.echo(f"Nothing to do: every unit is up to date in {report.album_dir}")
    else:
        done = ", ".join(f"{n} {r.ran}" for n, r in report.stages.items() if r.ran)
        click.echo(f"Built {report.album_dir} (units run: {done})")


def _build_catalogue(albums: list, until: str | None, force: tuple[str, ...], executor: str | None) -> None:
    """Every album on one frontier (engine/catalogue.py); each album's end is said as it
    comes, a failed one with its own `Error:` line; the exit code is the first failed
    album's (in the order given), after a summary naming every failed album."""
    def said(result: catalogue.AlbumResult) -> None:
        if result.error is None:
            _say_built(result.report)
        else:
            line, _ = error_line(result.error)
            click.echo(f"Error: {runner.album_label(result.ctx, result.pipeline)}: {line}", err=True)

    with interrupt.stop_on_signals(), console.live():
        try:
            results = catalogue.build_catalogue(albums, until, force, executor, on_done=said)
        except (Interrupted, AlbumgenError) as e:
            if isinstance(e, AlbumgenError) and not interrupt.requested():
                raise
            takes = sum(len(ctx.artifacts.takes()) for _, ctx in albums)
            raise Interrupted(f"kept {counted(takes, 'take')} over {len(albums)} albums; "
                              f"run the same build again to resume", interrupt.requested()) from None
    failed = [r for r in results if r.error is not None]
    if failed:
        codes = [error_line(r.error)[1] for r in failed]
        names = ", ".join(f"{r.ctx.album_dir.name} (exit {c})" for r, c in zip(failed, codes, strict=True))
        click.echo(f"{len(results) - len(failed)} of {len(results)} albums built; failed: {names} "
                   f"(fix each as its Error line says, then run the same build again: "
                   f"finished albums and units are kept)", err=True)
        raise click.exceptions.Exit(codes[0])
    click.echo(f"{len(results)} albums built")


def _build_one(ctx, until: str | None, force: tuple[str, ...], executor: str | None) -> runner.BuildReport:
    with interrupt.stop_on_signals():
        try:
            return runner.build(ctx, until, force, executor=executor)
        except (Interrupted, AlbumgenError) as e:
            # A Ctrl-C in a terminal also reaches ffmpeg, whose failure is then only an echo of it.
            if isinstance(e, AlbumgenError) and not interrupt.requested():
                raise
            takes = len(ctx.artifacts.takes())
            raise Interrupted(f"kept {counted(takes, 'take')}; "
                              f"run the same build again to resume", interrupt.requested()) from None


def _show_dry_run(report: runner.BuildReport) -> None:
    click.echo(f"Album folder: {report.album_dir}")
    for name, rep in report.stages.items():
        if rep.waiting_on:
            click.echo(f"  {name:8} waits on {rep.waiting_on}")
        else:
            waits = f"; {counted(rep.waiting, 'track waits', 'tracks wait')} on upstream units" if rep.waiting else ""
            click.echo(f"  {name:8} would run {rep.ran} of {counted(rep.planned, 'unit')} ({rep.skipped} up to date)"
                       + waits)
    if report.notes:
        click.echo("Work:")
        for line in report.notes:
            click.echo(f"  {line}")
    click.echo("Checks passed (model, prompts, inputs); nothing was written.")
