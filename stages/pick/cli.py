"""The pick stage's commands: `albumgen pick FILE --track N [--take M | --auto | --more K]` and
`albumgen score FILE...` (added to the CLI through PickStage.commands())."""
from __future__ import annotations

import json
from pathlib import Path

import click

from albumgen.config import load_config
from albumgen.engine import runner
from albumgen.errors import ConfigError, InputError

from .manual import describe, request_takes, set_choice


@click.command()
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
    if more is not None:
        t, total = request_takes(ctx, track, more)
        click.echo(f"Track {t['n']} ({t['title']}) will get {more} more take{'s' * (more != 1)} "
                   f"({total} asked for by hand in all): run `albumgen build {pipeline}` to render them")
        return
    if take is None and not auto:
        _show(describe(ctx, track))
        return
    t, chosen = set_choice(ctx, track, take)
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


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--prompt", help="What the audio should be (for CLAP, when its weights are here).")
@click.option("--pipeline", type=click.Path(path_type=Path), help="Use this pipeline's pick settings.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (format in docs/configuration.md, pick).")
def score(files: tuple[Path, ...], prompt: str | None, pipeline: Path | None, as_json: bool) -> None:
    """Score audio files as the picker would and say which one it would keep."""
    cfg, base_dir = (None, None)
    if pipeline:
        config, base_dir = load_config(pipeline)
        cfg = config.pick
    from .scoring import score_files  # scipy's filters: not at every CLI start (--help)

    # Paths in the pipeline (a local clap_model) are relative to its folder, as in a build.
    report = score_files(list(files), cfg, prompt, base_dir=base_dir)
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False))
    else:
        _print(report)
    if not report["files"]:
        raise InputError("no file could be scored", "check the paths and formats")


def _print(report: dict) -> None:
    for f in report["files"]:
        mark = "  <- picked" if f["picked"] else ""
        click.echo(f"{f['file']}: score {f['score']:+.2f}{mark}")
        for r in f["rejects"]:
            click.echo(f"  reject  {r}")
        for w in f["warnings"]:
            click.echo(f"  note    {w}")
        feats = "  ".join(f"{k}={v:g}" for k, v in f["features"].items())
        click.echo(f"  {feats}")
    for e in report["errors"]:
        click.echo(f"{e['file']}: cannot read: {e['error']}", err=True)
    for name, reason in report["skipped"].items():
        click.echo(f"({name} skipped: {reason})")
    if report["picked"]:
        flag = " (every file failed the hard checks: least bad)" if report["all_rejected"] else ""
        click.echo(f"Picked: {report['picked']}{flag}")
