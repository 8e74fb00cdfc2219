"""The one place albumgen writes to the terminal: log lines, and on a terminal a live block
(rich) of progress that log lines print above, so neither garbles the other.

Stages never write to stderr themselves: they log, and a long stage shows its progress with
`show(key, text)`. Without a live block (a log file, a pipe) `show` does nothing, and the
stage logs one plain line per finished piece of work instead.
"""
from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

_lock = threading.RLock()
_live = None  # rich.live.Live while a live block is up
_lines: dict[str, str] = {}


def active() -> bool:
    return _live is not None


def show(key: str, text: str) -> None:
    """Set (or, with "", remove) one line of the live block."""
    with _lock:
        if _live is None:
            return
        if text:
            _lines[key] = text
        else:
            _lines.pop(key, None)
        try:
            _live.update(_render(), refresh=True)
        except OSError:  # progress that cannot be shown must never stop the work it shows
            leave_a_closed_terminal()


def leave_a_closed_terminal() -> None:
    """After a hangup (an SSH connection dropped, a window shut) every write to the terminal
    fails with EIO, also for a build that outlives it (`nohup`, a background job): stdout and
    stderr that were that terminal go to /dev/null. A file or a pipe is left as it is."""
    import errno
    import termios

    for fd in (1, 2):
        try:
            termios.tcgetattr(fd)
        except termios.error as e:
            if e.args[0] == errno.EIO:  # a terminal, hung up (a file or a pipe says ENOTTY)
                to_devnull(fd)


def to_devnull(fd: int) -> None:
    """Point `fd` at /dev/null: what is still written there (a buffer flushed at exit) is
    dropped instead of failing again."""
    import os

    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, fd)
    os.close(null)


def _render():
    from rich.text import Text

    return Text("\n".join(_lines.values()))


@contextlib.contextmanager
def live(enabled: bool = True, stream=None) -> Iterator[None]:
    """A live block on `stream` (stderr) for the duration; log lines print above it.
    Not a terminal, or `enabled` False: nothing changes."""
    global _live
    stream = stream or sys.stderr
    if not enabled or not stream.isatty() or _live is not None:
        yield
        return
    from rich.console import Console
    from rich.live import Live

    console = Console(file=stream, highlight=False, soft_wrap=True)
    view = Live(console=console, auto_refresh=False, transient=True, redirect_stdout=True, redirect_stderr=True)
    with _lock:
        _lines.clear()
        _live = view
        view.start()
    try:
        yield
    finally:
        with _lock:
            _live = None
            last = _render()
            _lines.clear()
            view.stop()
            if last.plain:  # the last progress stays on screen as a plain line
                console.print(last)


class Handler(logging.Handler):
    """Log lines on stderr, printed above the live block while one is up."""

    def __init__(self, stream=None):
        super().__init__()
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            with _lock:
                if _live is not None:
                    _live.console.print(text, markup=False, highlight=False, soft_wrap=True)
                    return
            stream = self.stream or sys.stderr
            stream.write(text + "\n")
            stream.flush()
        except OSError:  # a closed terminal, a full disk: a log line must not stop a build
            leave_a_closed_terminal()
        except Exception:
            self.handleError(record)


# -- notices that would repeat on every build ------------------------------------------------
NOTICES = "notices.json"  # in the manifest folder: the keys of notices already shown for the album


def notice(log: logging.Logger, key: str, msg: str, *args, level: int = logging.WARNING) -> None:
    """A notice worth one look per album (an optional scorer missing, the tiny model's noise):
    shown on the album's first build, then only under --verbose."""
    log.log(level, msg, *args, extra={"notice": key})


class OncePerAlbum(logging.Filter):
    """Drops a notice already shown for the album being built (see `notice`)."""

    def __init__(self):
        super().__init__()
        self.folder: Path | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        key = getattr(record, "notice", None)
        folder = self.folder
        if key is None or folder is None or logging.getLogger("albumgen").level <= logging.DEBUG:
            return True
        import json

        path = folder / NOTICES
        try:
            seen = json.loads(path.read_text("utf-8"))
            seen = seen if isinstance(seen, list) else []
        except (OSError, ValueError):
            seen = []
        if key in seen:
            return False
        try:
            from .engine.store.atomic import write_json

            write_json(path, sorted(set(seen) | {key}))
        except OSError:
            pass  # not remembered: shown again next time, nothing worse
        return True


once_per_album = OncePerAlbum()


@contextlib.contextmanager
def remember_notices(manifest_dir: Path) -> Iterator[None]:
    """While a build holds the album: notices are remembered in its manifest folder."""
    once_per_album.folder = manifest_dir
    try:
        yield
    finally:
        once_per_album.folder = None
