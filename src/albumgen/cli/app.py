"""The `albumgen` command group: logging, and every error turned into one line and its exit code."""
from __future__ import annotations

import errno
import logging
import select
import signal
import sys
import traceback
from pathlib import Path

import click

from .. import console
from ..engine import interrupt
from ..engine.executors import guard
from ..engine.interrupt import Interrupted
from ..engine.store.atomic import DISK_FULL, disk_full
from ..errors import AlbumgenError, OutputError

log = logging.getLogger("albumgen")


VERBOSE = ("-v", "--verbose")
_outside_handler = None  # what Ctrl-C and SIGTERM do outside a command (set by albumgen.__main__)


def handle_signals_outside_commands(handler) -> None:
    """The console entry's: `handler` acts on Ctrl-C and SIGTERM before a command starts
    (parsing, the pipeline's checks) and after it ended (the interpreter's exit)."""
    global _outside_handler
    _outside_handler = handler


class AlbumgenGroup(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # -v works after the command too (`albumgen status my.yaml -v`): it is the group's
        # option, so it is moved in front of the command before click parses.
        end = args.index("--") if "--" in args else len(args)
        if any(a in VERBOSE for a in args[:end]):
            args = ["--verbose"] + [a for i, a in enumerate(args) if i >= end or a not in VERBOSE]
        try:
            return super().parse_args(ctx, args)
        except BrokenPipeError:  # `albumgen --help | head -1`
            if not reader_gone():
                raise
            ctx.exit(0)

    def invoke(self, ctx: click.Context):
        code = 1
        try:
            if _outside_handler is not None:  # the command's own: Ctrl-C is a KeyboardInterrupt it handles
                signal.signal(signal.SIGINT, signal.default_int_handler)
                for s in interrupt.SIGNALS[1:]:
                    signal.signal(s, signal.SIG_DFL)
            stdout, sys.stdout = sys.stdout, _Stdout(sys.stdout)
            try:
                result = self._answer(ctx)
            finally:
                sys.stdout = stdout
            code = 0
            return result
        except click.exceptions.Exit as e:
            code = e.exit_code
            raise
        finally:
            if _outside_handler is not None:
                for s in interrupt.SIGNALS:
                    signal.signal(s, _outside_handler)
            guard.answer(code)  # a Ray build's supervisor exits with this code (executors/guard.py)

    def _answer(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except AlbumgenError as e:
            log.debug("%s", traceback.format_exc())
            _last(f"Error: {e}")
            ctx.exit(e.exit_code)
        except Interrupted as e:
            _last(f"Interrupted: {e}")
            ctx.exit(e.exit_code)
        except KeyboardInterrupt:
            _last("Interrupted: finished units are kept; run the same command again to resume")
            ctx.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as e:
            if _unread(e):  # the command said all anyone will read: its work is done
                ctx.exit(0)
            # a bug: say so in one line, the traceback goes to --verbose
            log.debug("%s", traceback.format_exc())
            line, code = error_line(e)
            _last(f"Error: {line}")
            ctx.exit(code)


def _unread(e: Exception) -> bool:
    """Whether `e` is stdout's reader gone: the pipe's (a broken pipe of our own, to a
    worker, is a bug) or a terminal that closed (EIO)."""
    if isinstance(e, BrokenPipeError):
        return reader_gone()
    if isinstance(e, OSError) and getattr(e, "on_stdout", False) and e.errno == errno.EIO:
        console.leave_a_closed_terminal()
        return True
    return False


def reader_gone() -> bool:
    """Whether stdout is a pipe whose reader has left (`albumgen status x.yaml | head -1`).
    Then the command has said all anyone reads: it ends quietly with 0, as the work it did is
    done, and stdout goes to /dev/null so that nothing left in its buffer raises again at exit."""
    try:
        poll = select.poll()
        poll.register(sys.stdout.fileno(), select.POLLOUT)
        gone = any(ev & select.POLLERR for _, ev in poll.poll(0))
    except (OSError, ValueError, AttributeError):  # no real file behind stdout (a test's runner)
        return False
    if gone:
        console.to_devnull(sys.stdout.fileno())
    return gone


class _Stdout:
    """sys.stdout while a command runs: a write it fails is marked as stdout's, so that
    `albumgen status x.yaml > /dev/full` is not reported as the album's disk being full."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        try:
            return self._stream.write(text)
        except OSError as e:
            e.on_stdout = True
            raise

    def flush(self):
        try:
            return self._stream.flush()
        except OSError as e:
            e.on_stdout = True
            raise

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _last(line: str) -> None:
    """A command's closing line, on stderr (a Ray build's supervisor prints it: guard.last_word)."""
    if not guard.last_word(line):
        try:
            click.echo(line, err=True)
        except OSError:  # a closed terminal: there is no one to tell
            console.leave_a_closed_terminal()


def error_line(e: BaseException) -> tuple[str, int]:
    """What an error says after `Error: ` and its exit code: an AlbumgenError its own, a full
    disk an OutputError's, anything else is a bug (70)."""
    if isinstance(e, AlbumgenError):
        return str(e), e.exit_code
    if isinstance(e, OSError) and e.errno in DISK_FULL:  # a full disk is not a bug
        if getattr(e, "on_stdout", False):
            return (f"cannot write the output: {e.strerror or e} (send it where there is room, "
                    "or free some space there)"), OutputError.exit_code
        return str(disk_full(e, Path(e.filename) if e.filename else None)), OutputError.exit_code
    return f"internal error: {type(e).__name__}: {e} (rerun with --verbose and report it)", 70


def setup_logging(verbose: bool) -> None:
    handler = console.Handler()  # prints above the live progress block while one is up
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("albumgen")
    root.handlers[:] = [handler]
    root.filters[:] = [console.once_per_album]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False


@click.group(cls=AlbumgenGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Debug logging and tracebacks.")
@click.version_option(package_name="albumgen")
def main(verbose: bool) -> None:
    """albumgen: turn an album brief into a finished album of tagged MP3s."""
    setup_logging(verbose)
    guard.attach()  # the Ray driver of a supervised build: its pipes to the supervisor
