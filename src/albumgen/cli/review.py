"""albumgen review FILE [--port N] [--host H] [--no-open] [--export DIR | OUT.html [--embed]]"""
from __future__ import annotations

import errno
import webbrowser
from pathlib import Path

import click

from ..engine import runner
from ..errors import ConfigError
from .app import main


@main.command()
@click.argument("pipeline", type=click.Path(path_type=Path))
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port to serve on; 0 picks a free one.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback lets others on the network in (with the token).")
@click.option("--no-open", is_flag=True, help="Print the address, do not open a browser.")
@click.option("--export", "export_to", type=click.Path(path_type=Path), metavar="DIR|OUT.html",
              help="Write a copy to share instead of serving: a folder (page and audio; zip it and send it), "
                   "or an .html file whose players link into the album folder.")
@click.option("--embed", is_flag=True, help="With --export OUT.html: put the audio (takes as MP3) inside the file.")
def review(pipeline: Path, port: int, host: str, no_open: bool, export_to: Path | None, embed: bool) -> None:
    """Hear, see and choose takes in the browser; a build can run meanwhile."""
    if embed and export_to is None:
        raise ConfigError("--embed needs --export OUT.html", "add --export review.html")
    ctx = runner.open_pipeline(pipeline, progress=False)
    if export_to is not None:
        from ..review.export import HTML, export  # the review page's code loads only for `review`

        written = export(ctx, export_to, embed=embed, pipeline=pipeline)
        if written.name == "index.html" and export_to.suffix.lower() not in HTML:
            click.echo(f"Wrote {written.parent}/ (open index.html; zip the folder to send it)")
        elif embed:
            click.echo(f"Wrote {written} (pictures and audio inside: send it as it is)")
        else:
            click.echo(f"Wrote {written}")
            click.echo(f"Its players link into {ctx.album_dir}: keep the two together, or use --export DIR "
                       "or --embed to send it on its own")
        return
    from ..review.server import ReviewServer  # http.server and the pages: only for `review`

    try:
        server = ReviewServer(ctx, host, port, prefetch=True, pipeline=pipeline)
    except OSError as e:
        if e.errno in (errno.EADDRINUSE, errno.EACCES):  # taken, or below 1024
            fix = "pick another --port, or leave it out for a free one"
        else:  # no such name, or an address that is not this machine's
            fix = "give --host an address of this machine (127.0.0.1, or 0.0.0.0 for every network)"
        raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror}", fix) from None
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
