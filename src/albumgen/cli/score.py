"""albumgen score FILE... [--prompt TEXT] [--json]"""
from __future__ import annotations

import json
from pathlib import Path

import click

from .. import registry
from ..config import load_config
from ..errors import InputError
from . import main


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--prompt", help="What the audio should be (for CLAP, when its weights are here).")
@click.option("--pipeline", type=click.Path(path_type=Path), help="Use this pipeline's pick settings.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (format in the README, section pick).")
def score(files: tuple[Path, ...], prompt: str | None, pipeline: Path | None, as_json: bool) -> None:
    """Score audio files as the picker would and say which one it would keep."""
    cfg = load_config(pipeline)[0].pick if pipeline else None
    report = registry.get("pick").score_files(list(files), cfg, prompt)
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
