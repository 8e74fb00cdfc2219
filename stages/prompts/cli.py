"""albumgen prompts FILE: the prompts stage alone, to iterate before spending GPU hours."""
from __future__ import annotations

import json
from pathlib import Path

import click

from albumgen.engine import runner


@click.command()
@click.argument("pipeline", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the tracklist as JSON.")
def prompts(pipeline: Path, as_json: bool) -> None:
    """Make (or show) the tracklist only: album title, track titles, prompts."""
    ctx = runner.open_pipeline(pipeline, progress=False)
    runner.build(ctx, until="prompts")
    tracklist = ctx.artifacts.tracklist().model_dump(exclude_none=True)
    if as_json:
        click.echo(json.dumps(tracklist, indent=2, ensure_ascii=False, sort_keys=True))
        return
    click.echo(tracklist["album_title"])
    for track in tracklist["tracks"]:
        click.echo(f"{track['n']:2d}. {track['title']}")
        click.echo(f"    {track['prompt']}")
        if track.get("melody"):
            click.echo(f"    melody: {track['melody']}")
