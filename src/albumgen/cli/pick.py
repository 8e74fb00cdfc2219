"""albumgen pick FILE --track N [--take M | --auto | --more K]"""
from __future__ import annotations

from pathlib import Path

import click

from .. import registry, runner
from ..errors import ConfigError
from . import main


@main.command()
@click.argument("pipeline", type=click.Path(path_type=Path))
@click.option("--track", required=True, metavar="N", help="Track number (3) or id (t03).")
@click.option("--take", type=click.IntRange(min=1), metavar="M", help="Keep this take from now on.")
@click.option("--auto", is_flag=True, help="Drop the manual choice: the picker decides again.")
@click.option("--more", type=int, metavar="K", help="Render K more takes of this track on the next build.")
def pick(pipeline: Path, track: str, take: int | None, auto: bool, more: int | None) -> None:
    """Choose a track's take by hand (kept by later builds), or show its scores."""
    if sum((take is not None, auto, more is not None)) > 1:
        raise ConfigError("--take, --auto and --more contradict each other", "pass one of them")
    ctx = runner.open_pipeline(pipeline, progress=False)
    stage = registry.get("pick")
    if more is not None:
        t, total = stage.request_takes(ctx, track, more)
        click.echo(f"Track {t['n']} ({t['title']}) will get {more} more take{'s' * (more != 1)} "
                   f"({total} asked for by hand in all): run `albumgen build {pipeline}` to render them")
        return
    if take is None and not auto:
        _show(stage.describe(ctx, track))
        return
    t, chosen = stage.set_choice(ctx, track, take)
    what = f"take {chosen} (manual)" if chosen else "the automatic pick"
    click.echo(f"Track {t['n']} ({t['title']}) will use {what}: run `albumgen build {pipeline}` to master it")


def _show(report: dict) -> None:
    manual = " (manual)" if report.get("manual") else ""
    flag = " - every take failed the hard checks" if report.get("all_rejected") and not manual else ""
    click.echo(f"{report['track']}: take {report['choice']}{manual}{flag}")
    for t in report["takes"]:
        mark = "*" if t["take"] == report["choice"] else " "
        why = "; ".join(t["rejects"] + t["warnings"]) or "ok"
        click.echo(f" {mark} take {t['take']:<3} score {t['score']:+.2f}  {why}")
    for name, reason in report.get("skipped", {}).items():
        click.echo(f"   ({name} skipped: {reason})")
