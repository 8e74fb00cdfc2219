"""albumgen review FILE [--port N] [--host H] [--no-open] [--export OUT.html]"""
from __future__ import annotations

import webbrowser
from pathlib import Path

import click

from ..engine import runner
from ..errors import ConfigError
from . import main


@main.command()
@click.argument("pipeline", type=click.Path(path_type=Path))
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port to serve on; 0 picks a free one.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback lets others on the network in (with the token).")
@click.option("--no-open", is_flag=True, help="Print the address, do not open a browser.")
@click.option("--export", "export_to", type=click.Path(path_type=Path), metavar="OUT.html",
              help="Write a self-contained static report instead of serving.")
def review(pipeline: Path, port: int, host: str, no_open: bool, export_to: Path | None) -> None:
    """Hear, see and choose takes in the browser; a build can run meanwhile."""
    ctx = runner.open_pipeline(pipeline, progress=False)
    if export_to is not None:
        from ..review.export import export

        click.echo(f"Wrote {export(ctx, export_to)}")
        return
    from ..review.server import ReviewServer

    try:
        server = ReviewServer(ctx, host, port, prefetch=True)
    except OSError as e:
        raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror}",
                          "pick another --port, or leave it out for a free one") from None
    click.echo(f"Reviewing {ctx.album_dir}")
    click.echo(f"Open {server.url}  (Ctrl-C stops)")
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"Warning: listening on {host}: anyone who can reach it and has the address can choose takes",
                   err=True)
    if not no_open:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("Stopped.")
    finally:
        server.close()
