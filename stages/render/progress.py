"""One progress line for the render: takes done / total, audio seconds per second, ETA.

On a terminal the line is rewritten in place; in a log file (an overnight run under nohup
or systemd) it is a plain line now and then, so the log stays readable.
"""
from __future__ import annotations

import sys
import time


def _hms(seconds: float) -> str:
    s = int(max(0, seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class Progress:
    def __init__(self, total_takes: int, take_seconds: float, tty: bool, log, stream=None,
                 every: float | None = None, clock=time.monotonic):
        self.total = total_takes
        self.take_seconds = take_seconds
        self.tty = tty
        self.log = log
        self.stream = stream or sys.stderr
        self.every = every if every is not None else (0.25 if tty else 30.0)
        self.done = 0
        self.partial = 0.0  # takes' worth of audio in the batch under way
        self.clock = clock
        self.t0 = clock()
        self._last = 0.0
        self.note = ""  # a condition worth seeing on every line (e.g. CUDA graphs off)
        self.batch = 0  # takes in the batch under way
        self.batch_t0 = 0.0
        self.last_batch: float | None = None  # seconds the previous batch took

    def line(self) -> str:
        elapsed = max(self.clock() - self.t0, 1e-9)
        audio = (self.done + self.partial) * self.take_seconds
        rate = audio / elapsed
        left = (self.total - self.done - self.partial) * self.take_seconds
        eta = _hms(left / rate) if rate > 0 else "?"
        note = f" ({self.note})" if self.note else ""
        return f"render: {self.done}/{self.total} takes, {rate:.2f} audio s/s, ETA {eta}{note}"

    def batch_started(self, n: int) -> None:
        if self.batch:
            self.last_batch = self.clock() - self.batch_t0
        self.batch, self.batch_t0, self.partial = n, self.clock(), 0.0

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
        self.partial = batch * fraction
        if self.clock() - self._last >= self.every:
            self._show()

    def takes_done(self, n: int) -> None:
        self.done += n
        self.partial = 0.0
        self._show(final=self.done >= self.total)

    def _show(self, final: bool = False) -> None:
        self._last = self.clock()
        text = self.line()
        if self.tty:
            self.stream.write("\r" + text + ("\n" if final else ""))
            self.stream.flush()
        else:
            self.log.info(text)
