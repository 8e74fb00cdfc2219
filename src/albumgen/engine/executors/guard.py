"""A Ray build runs in a child process that the `albumgen` a user started outlives.

Ray's core worker ends its driver process by itself, at once and with exit code 1, when a
call finds the node's raylet or object store gone (a head that dies takes a one-node
cluster's raylet with it; a `ray.put` a moment later is enough): no Python runs after it,
so neither the fold of what was recorded nor an `Error:` line would. So `albumgen build`
with the ray executor only supervises: it runs the same build again as its child, the
Ray driver, which tells it two things through a pipe (the head's address once connected,
and the exit code albumgen chose when it ends). A child that ends without saying its exit
code was ended by Ray: this process folds every album's journal into its manifest.json,
says what happened in one line, and exits 8.

Signals: the child acts on Ctrl-C and SIGTERM exactly as a build does (interrupt.py). A
terminal's Ctrl-C reaches both processes (one process group); this one ignores what
reaches the child too, and passes on what was sent to it alone (`kill PID`, systemd's
main-process SIGTERM): the child echoes every signal it gets through a second pipe
(signal.set_wakeup_fd, written by the C-level handler, so even a child busy in native code
echoes at once), and a signal here with no echo within ECHO_SECONDS is forwarded.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from ...errors import AlbumgenError, StageError
from .. import interrupt
from ..store.manifest import Manifest
from . import lifeline
from .ray_head import answers, lost_head_error

log = logging.getLogger("albumgen")

ENV = "ALBUMGEN_RAY_GUARD"  # "<answer fd>,<echo fd>,<parent pid>" in the child's environment
ECHO_SECONDS = 0.3  # how long a signal here waits for the child's echo before it is forwarded
POLL_SECONDS = 0.1
RELAYED = interrupt.SIGNALS

_answer_fd: int | None = None  # in the child: where it tells its supervisor
_supervised = False  # this process is a supervised build's Ray driver


# -- the child: the Ray driver -----------------------------------------------------------
def attach() -> None:
    """In the child, first thing: take the pipes, echo signals, end with the supervisor."""
    global _answer_fd, _supervised
    value = os.environ.pop(ENV, None)  # not inherited by what the child starts
    if value is None:
        return
    answer_fd, echo_fd, parent = (int(v) for v in value.split(","))
    _answer_fd, _supervised = answer_fd, True
    lifeline.die_with_parent(parent)
    os.set_blocking(echo_fd, False)
    signal.set_wakeup_fd(echo_fd, warn_on_full_buffer=False)


def _tell(line: str) -> None:
    if _answer_fd is not None:
        with contextlib.suppress(OSError):  # the supervisor is gone: nobody to tell
            os.write(_answer_fd, (line + "\n").encode())


def tell_head(address: str) -> None:
    """The head this driver connected to: named by the supervisor if the driver dies."""
    _tell(f"head {address}")


def last_word(line: str) -> bool:
    """The command's last line (its `Error:` or `Interrupted:`), printed by the supervisor
    once this process has ended: Ray forwards its workers' log lines to this process's
    stderr from a thread of its own, and one that comes late would follow the line a user
    reads last. False: no supervisor to tell, print it here."""
    if _answer_fd is None:
        return False
    try:
        os.write(_answer_fd, f"last {json.dumps(line)}\n".encode())
    except OSError:  # the supervisor is gone
        return False
    return True


def answer(code: int) -> None:
    """albumgen decided how this process ends: the supervisor exits with `code`, whatever
    Ray does to this process after (its own shutdown at exit may end it with 1)."""
    global _answer_fd
    _tell(f"exit {code}")
    _answer_fd = None


# -- the supervisor ------------------------------------------------------------------------
def wanted(kinds: list[str]) -> bool:
    """A build some of whose albums run on Ray, not already inside a supervisor, and not on
    a Ray this process already holds (a notebook's, a test's: the build uses that one)."""
    ray = sys.modules.get("ray")
    if ray is not None and getattr(ray, "is_initialized", lambda: False)():
        return False
    return "ray" in kinds and not _supervised and ENV not in os.environ and sys.platform != "win32"


class _Relay:
    """Signals sent to the supervisor alone go on to the child (see the module's doc)."""

    def __init__(self):
        self.got: list[tuple[int, float]] = []  # (signal, when) received here, not yet settled
        self.echoed: list[int] = []
        self.previous = {s: signal.signal(s, self._handle) for s in RELAYED}

    def _handle(self, signum: int, frame) -> None:
        self.got.append((signum, time.monotonic()))

    def settle(self, child: subprocess.Popen) -> None:
        for signum, when in list(self.got):
            if signum in self.echoed:  # the child got it too (a process group's signal)
                self.echoed.remove(signum)
                self.got.remove((signum, when))
            elif time.monotonic() - when > ECHO_SECONDS:
                self.got.remove((signum, when))
                with contextlib.suppress(ProcessLookupError):
                    child.send_signal(signum)

    def close(self) -> None:
        for s, handler in self.previous.items():
            signal.signal(s, handler)


def supervise(args: list[str], albums: list[Path]) -> int:
    """Run `albumgen <args>` as the Ray driver; return the exit code this process ends with."""
    answer_r, answer_w = os.pipe()
    echo_r, echo_w = os.pipe()
    env = {**os.environ, ENV: f"{answer_w},{echo_w},{os.getpid()}"}
    relay = _Relay()
    try:
        child = subprocess.Popen([sys.executable, "-m", "albumgen", *args], env=env, pass_fds=(answer_w, echo_w))
        os.close(answer_w)
        os.close(echo_w)
        said = _watch(child, answer_r, echo_r, relay)
    finally:
        relay.close()
        os.close(answer_r)
        os.close(echo_r)
    if "last" in said:  # the child's Error or Interrupted line, after everything it printed
        print(json.loads(said["last"]), file=sys.stderr)
    if "exit" in said:
        return int(said["exit"])
    return _driver_lost(child.returncode, said.get("head"), albums)


def _watch(child: subprocess.Popen, answer_r: int, echo_r: int, relay: _Relay) -> dict[str, str]:
    """Until the child ended and both pipes are read to their end: what it said."""
    said: dict[str, str] = {}
    buffer = b""
    open_fds = [answer_r, echo_r]
    while True:
        done = child.poll() is not None
        try:
            ready, _, _ = select.select(open_fds, [], [], 0 if done else POLL_SECONDS)
        except InterruptedError:  # a signal here: settled below
            ready = []
        for fd in ready:
            chunk = os.read(fd, 4096)
            if not chunk:  # its end: the child and whatever inherited the pipe are gone
                open_fds.remove(fd)
            elif fd == echo_r:
                relay.echoed += list(chunk)
            else:
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    key, _, value = line.decode().partition(" ")
                    said[key] = value
        relay.settle(child)
        if done and not ready:
            return said


def _driver_lost(code: int, head: str | None, albums: list[Path]) -> int:
    """The child ended without albumgen's word: Ray ended it, or a signal did."""
    for album in albums:
        fold(album)
    if code in interrupt.EXIT_CODES.values():  # a third Ctrl-C: the child said "Interrupted" itself and left at once
        return code
    if code < 0 and -code in RELAYED:
        print("Interrupted: finished units are kept; run the same build again to resume", file=sys.stderr)
        return 128 - code
    if head and not answers(head):
        raise lost_head_error(head)
    if code < 0:
        raise StageError(f"the Ray driver process was killed by {signal.Signals(-code).name}",
                         "out of memory? free some memory, then run the same build again; every recorded unit is kept")
    raise StageError(f"Ray ended its driver process (exit code {code})",
                     "this node's raylet or object store failed: see the Ray logs of this node, then run the same "
                     "build again; every recorded unit is kept")


def fold(album: Path) -> None:
    """What the ended driver committed, folded into manifest.json (it never got to)."""
    if not (album / "manifest").is_dir():
        return
    try:
        manifest = Manifest(album)
        with manifest.lock():
            manifest.compact()
    except (AlbumgenError, OSError) as e:  # the journal keeps every record; the next build folds it
        log.debug("folding %s after its driver ended failed: %s", album, e)
