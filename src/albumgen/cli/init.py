"""albumgen init [PATH]"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import click

from ..errors import OutputError
from .app import main


@main.command()
@click.argument("path", type=click.Path(path_type=Path), default=Path("pipeline.yaml"))
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: Path, force: bool) -> None:
    """Write a commented starter pipeline."""
    if path.exists() and not force:
        raise OutputError(f"{path} already exists", "pick another name or pass --force")
    text = resources.files("albumgen").joinpath("starter.yaml").read_text("utf-8")
    try:
        path.write_text(text, "utf-8")
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror}", "check the folder exists and is writable") from None
    click.echo(f"Wrote {path}: edit it, then run `albumgen build {path}`")
