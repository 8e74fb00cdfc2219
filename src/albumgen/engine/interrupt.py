"""Ctrl-C, SIGTERM and SIGHUP: stop at the next safe point, keeping everything finished.

A terminal sends Ctrl-C to its whole foreground process group: the driver and every
worker process it started; `kill -TERM -PGID`, `timeout` and systemd's stop send SIGTERM
to the whole group too. The workers act on neither (they start with both blocked, see
`shielded`, and keep them so, which also covers the ffmpeg they run); the driver decides.
A worker still ends on a SIGTERM from its driver: the process pool ends a broken pool's
workers that way (`ignore_in_worker`).

The first signal asks: no new unit starts, the units in flight (render's batch, the CPU
units in the workers) finish and are recorded, then the build stops (exit 130). A second
signal stops at once: render leaves its batch at the next decoding step, the workers are
killed; atomic writes still leave no partial file, and the next build sweeps killed
writers' temporaries. Waits that write nothing (an LLM request, a retry's sleep) are left
at the first signal.
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator

from .. import console

log = logging.getLogger("albumgen")

# SIGHUP: the terminal closed (an SSH connection dropped, a window shut). The kernel sends it
# to the whole foreground group, as Ctrl-C: the same stop, the batch in flight kept. Unless
# it is ignored (`nohup albumgen build`, which albumgen.__main__ leaves so): then it goes on.
_HUP = getattr(signal, "SIGHUP", None)
SIGNALS = (signal.SIGINT, signal.SIGTERM) + ((_HUP,) if _HUP and signal.getsignal(_HUP) is not signal.SIG_IGN else ())
SHIELDED = set(SIGNALS)  # what worker processes leave to their driver
EXIT_CODES = {"SIGINT": 130, "SIGTERM": 143, "SIGHUP": 129}  # 128 + the signal's number, as a shell reports it


class Interrupted(BaseException):
    """A stop asked for by a signal. A BaseException, like KeyboardInterrupt, so that no
    `except Exception` on the way (the openai client has several) turns it into an error."""

    def __init__(self, message: str = "", signal_name: str | None = None):
        super().__init__(message)
        self.signal_name = signal_name or _requested or "SIGINT"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.signal_name, 130)


_requested: str | None = None
_now = False  # a second signal: stop at once
_abandoned = False  # the build ends on an error: the work in flight is dropped
_immediate = 0
_in_flight: list[Callable[[], str | None]] = []


def requested() -> str | None:
    """The name of the signal that asked the build to stop, or None."""
    return _requested


def now() -> bool:
    """A second signal asked to stop at once (not after the units in flight)."""
    return _now


def check() -> None:
    """Raise Interrupted if a stop was asked for: call where stopping loses nothing."""
    if _requested:
        raise Interrupted(_requested)


def check_now() -> None:
    """Raise Interrupted if a stop at once was asked for: call inside a unit's work (a
    decoding step), where the first signal lets the unit finish."""
    if _now or _abandoned:
        raise Interrupted(_requested or "abandoned")


@contextlib.contextmanager
def abandoning() -> Iterator[None]:
    """The build is ending (an error, a second Ctrl-C): work in flight in other threads
    leaves at its next check_now, so that no thread is inside torch while the interpreter
    shuts down (which aborts the process: "terminate called without an active exception")."""
    global _abandoned
    _abandoned = True
    try:
        yield
    finally:
        _abandoned = False


def _label(name: str) -> str:
    return "Ctrl-C" if name == "SIGINT" else name


def _handle(signum: int, frame) -> None:
    global _requested, _now
    name = signal.Signals(signum).name
    if name == "SIGHUP":
        console.leave_a_closed_terminal()
    if _now:  # a third: whatever the stop at once is waiting on, leave now
        os.write(2, b"Interrupted: stopped at once; run the same build again to resume\n")
        os._exit(EXIT_CODES.get(_requested or "", 130))
    if _requested or _immediate:
        _requested = _requested or name
        _now = True
        raise Interrupted(name)
    _requested = name
    what = " and ".join(p for p in (_describe(d) for d in reversed(_in_flight)) if p)
    again = "Ctrl-C again" if name == "SIGINT" else f"send {name} again"
    log.warning("%s: stopping after %s; %s to stop now", _label(name), what or "the step in progress", again)


def _describe(describe: Callable[[], str | None]) -> str | None:
    try:
        return describe()
    except Exception as e:  # a progress figure must never turn a stop into a crash
        log.debug("describing the work in flight failed: %s", e)
        return None


@contextlib.contextmanager
def in_flight(describe: Callable[[], str | None]) -> Iterator[None]:
    """While this block runs, the first signal's message says what will still finish:
    `describe()` returns e.g. "the batch in flight (4 takes, ETA 0:00:12)", or None."""
    _in_flight.append(describe)
    try:
        yield
    finally:
        _in_flight.remove(describe)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within this block SIGINT, SIGTERM and SIGHUP ask for a stop instead of killing the process."""
    global _requested, _now
    if threading.current_thread() is not threading.main_thread():  # only the main thread may
        yield
        return
    previous = {s: signal.signal(s, _handle) for s in SIGNALS}
    _requested, _now = None, False
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _requested, _now = None, False  # a later build in this process starts afresh


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


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Processes started inside this block begin with Ctrl-C blocked, before their first
    line of Python runs: a blocked signal mask survives fork and exec, while a handler
    does not. This thread's own mask is put back after; a Ctrl-C meanwhile goes to
    another thread of the driver, and Python still runs its handler in the main thread."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no process groups, no mask
        yield
        return
    from multiprocessing import resource_tracker

    # multiprocessing starts its resource tracker at its first process, and unblocks SIGINT
    # in the calling thread after (SIG_UNBLOCK, not a restore): started now, it cannot.
    resource_tracker.ensure_running()
    old = signal.pthread_sigmask(signal.SIG_BLOCK, SHIELDED)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def ignore_in_worker(driver: int) -> None:
    """A worker process's first step: Ctrl-C and a process group's SIGTERM are the driver's
    to act on. Both stay blocked, so the processes it starts (ffmpeg, which installs its own
    handlers) never see them either; Ctrl-C is also ignored. A SIGTERM that the driver sent
    (the process pool ends a broken pool's workers so) still ends the worker: a thread
    takes every SIGTERM and reads who sent it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not hasattr(signal, "sigwaitinfo"):  # Windows, macOS: no process groups' SIGTERM to tell apart
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, SHIELDED)
    threading.Thread(target=_end_on_drivers_sigterm, args=(driver,), name="albumgen-sigterm", daemon=True).start()


def _end_on_drivers_sigterm(driver: int) -> None:
    while signal.sigwaitinfo({signal.SIGTERM}).si_pid != driver:
        pass  # a process group's stop (a shell, `timeout`, systemd): the driver got it too
    # SIGTERM's default action, as if it had never been blocked: the pool reads the exit code.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    signal.raise_signal(signal.SIGTERM)
