"""Ctrl-C and SIGTERM: stop at the next safe point, keeping everything finished.

The first signal only asks: the runner checks between committed units and render between
decoding steps, so a build stops within a step, with every recorded unit kept and no
half-written file. Waits that write nothing (an LLM request, a retry's sleep) are left at
once. A second signal stops immediately; atomic writes still leave no partial file.
"""
from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator

log = logging.getLogger("albumgen")

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """A stop asked for by a signal. A BaseException, like KeyboardInterrupt, so that no
    `except Exception` on the way (the openai client has several) turns it into an error."""


_requested: str | None = None
_immediate = 0


def requested() -> str | None:
    """The name of the signal that asked the build to stop, or None."""
    return _requested


def check() -> None:
    """Raise Interrupted if a stop was asked for: call where stopping loses nothing."""
    if _requested:
        raise Interrupted(_requested)


def _handle(signum: int, frame) -> None:
    global _requested
    name = signal.Signals(signum).name
    if _requested or _immediate:
        _requested = _requested or name
        raise Interrupted(name)
    _requested = name
    log.warning("%s: stopping after the step in progress (send it again to stop at once)", name)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within this block SIGINT and SIGTERM ask for a stop instead of killing the process."""
    global _requested
    if threading.current_thread() is not threading.main_thread():  # only the main thread may
        yield
        return
    previous = {s: signal.signal(s, _handle) for s in SIGNALS}
    _requested = None
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _requested = None  # a later build in this process starts afresh


@contextlib.contextmanager
def immediate() -> Iterator[None]:
    """A wait that writes nothing (a network request, a sleep): a signal ends it at once."""
    global _immediate
    check()
    _immediate += 1
    try:
        yield
    finally:
        _immediate -= 1
