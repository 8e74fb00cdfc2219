"""The render's progress, album-wide: takes done of the album's takes, the batch in flight,
audio seconds per second and an ETA.

On a terminal it is a line of the live block (albumgen.console) that log lines print above,
updated while a batch runs; in a log file (an overnight run under nohup or systemd) it is
one plain line per finished batch, so the log stays readable.
"""
from __future__ import annotations

import time

from albumgen import console
from albumgen.stage import Context


def _hms(seconds: float) -> str:
    s = int(max(0, seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class Progress:
    def __init__(self, total_takes: int, take_seconds: float, tty: bool, log, stream=None,
                 every: float | None = None, clock=time.monotonic, done: int = 0):
        self.total = total_takes
        self.take_seconds = take_seconds
        self.tty = tty
        self.log = log
        self.every = every if every is not None else 0.25
        self.before = done  # takes the album had when this build started: not in the rate
        self.done = done
        self.partial = 0.0  # takes' worth of audio in the batch under way
        self.batch = 0  # takes in the batch under way
        self.clock = clock
        self.t0 = clock()
        self._last = 0.0
        self.note = ""  # a condition worth seeing on every line (e.g. CUDA graphs off)
        self.batch_t0 = 0.0
        self.last_batch: float | None = None  # seconds the previous batch took

    def add(self, takes: int, take_seconds: float) -> None:
        """More takes for this build (a retry round, the next submission of units)."""
        self.total += takes
        self.take_seconds = take_seconds

    def line(self) -> str:
        elapsed = max(self.clock() - self.t0, 1e-9)
        rate = (self.done - self.before + self.partial) * self.take_seconds / elapsed
        left = (self.total - self.done - self.partial) * self.take_seconds
        eta = _hms(left / rate) if rate > 0 else "?"
        batch = f", batch of {self.batch} at {self.partial / self.batch:.0%}" if self.batch else ""
        note = f" ({self.note})" if self.note else ""
        return f"render: {self.done}/{self.total} takes{batch}, {rate:.2f} audio s/s, ETA {eta}{note}"

    def batch_started(self, n: int) -> None:
        self.batch, self.batch_t0, self.partial = n, self.clock(), 0.0
        self._show()

    def describe_batch(self) -> str:
        """The batch under way and when it should end: what a first Ctrl-C waits for."""
        elapsed = self.clock() - self.batch_t0
        share = self.partial / self.batch if self.batch else 0.0
        left = elapsed / share * (1 - share) if share > 0.02 else \
            (self.last_batch - elapsed if self.last_batch is not None else None)
        eta = f", ETA {_hms(left)}" if left is not None else ""
        return f"the batch in flight ({self.batch} take{'' if self.batch == 1 else 's'}{eta})"

    def batch_step(self, batch: int, fraction: float) -> None:
        """Called during a batch: `fraction` of its `batch` takes is generated."""
        self.batch = batch
        self.partial = batch * fraction
        if self.clock() - self._last >= self.every:
            self._show()

    def takes_done(self, n: int) -> None:
        if self.batch:
            self.last_batch = self.clock() - self.batch_t0
        self.done += n
        self.partial = 0.0
        self.batch = 0
        if self.tty and console.active():
            self._show()
        else:
            self.log.info(self.line())  # a log file: one line per finished batch

    def _show(self) -> None:
        self._last = self.clock()
        if self.tty:
            console.show("render", self.line())


def for_build(ctx: Context, units: list, take_seconds: float) -> Progress:
    """The build's one render progress, across every call of the stage (a retry round's takes
    join the count instead of starting it again). The takes recorded before this build count
    as done, so the line says how far the album is, not how far this call is; a record these
    units replace (a take whose settings changed) is not one of them."""
    progress = ctx.session.get("render_progress")
    if progress is None:
        redo = {u.id for u in units}
        before = sum(r.unit not in redo for r in ctx.manifest.records("render"))
        progress = ctx.session["render_progress"] = Progress(before, take_seconds, ctx.progress, ctx.log, done=before)
    progress.add(len(units), take_seconds)
    return progress
