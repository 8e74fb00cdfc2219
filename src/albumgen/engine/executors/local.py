"""Where units run. The frontier (scheduler.py) decides when; an executor runs them and
hands the finished units back to the driver, which alone writes the manifest.

`local` (the default, nothing to start): device units (render) in a thread of the driver's
process, so the loaded model stays loaded and the GPU runs while the driver commits; CPU
units (pick, master) in a pool of worker processes sized to the cores; "driver" units
(prompts) in the driver itself. With `executor.workers: 0` every CPU unit runs in the
driver too (one process, for debugging).

Faults: the workers start with Ctrl-C blocked and ignore it (the driver decides what a
stop means, interrupt.py) and end with their driver (lifeline.py). A worker that dies (the
OOM killer, a segfault in a native library) breaks the whole pool: a new one is started
and the unit the dead worker ran is sent again, WORKER_RETRIES times at most, then one
StageError names the stage and the unit (exit 8).

One executor can serve several albums at once (a catalogue on one frontier, catalogue.py):
each unit is submitted with its album's Context, runs with it, and comes back with it;
`wait_albums` says which album each finished unit and each failure belongs to, so one
album's failure is that album's, not the catalogue's. Units submitted with a `place` (the
album's place in the order the catalogue opened them) are served by it, FIFO within a
place: a finished album is what a user waits for, so the earliest open album's retry takes
go to the device before the next album's remaining batches, and its pick and master units
to the workers before the next album's. A job in progress is never interrupted: a device
job is cut to one batch for that, and CPU units wait here, not in the pool's own FIFO,
until a worker is free. Units without a place (a single build) run as they always
did: one device job per submission, every CPU unit into the pool at once.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import os
import queue
import signal
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ... import registry
from ...config import pipeline_model
from ...errors import StageError
from ...stage import Context, Done, Stage, Unit
from .. import interrupt
from ..store import atomic
from ..store.manifest import Manifest
from . import lifeline

log = logging.getLogger("albumgen")


def default_workers() -> int:
    # One core stays with the driver and the device thread (on a CPU box it renders there).
    return max(1, (os.cpu_count() or 2) - 1)


def _at_most_cores(workers: int) -> int:
    # A CPU unit uses a core: past the machine's cores more workers only take memory (each
    # imports the audio stack, hundreds of MB), and `workers: 100000` would fork until it ran out.
    cores = os.cpu_count() or 1
    if workers > cores:
        log.warning("executor.workers is %d but this machine has %d cores: using %d", workers, cores, cores)
        return cores
    return workers


WORKER_RETRIES = 3  # runs of a CPU unit whose worker process died, after the first (as Ray's max_retries)
POLL_SECONDS = 0.25  # how often a wait looks whether a stop was asked for
POOL_JOIN_SECONDS = 10  # how long a broken pool may take to end and join its workers
DEVICE_JOIN_SECONDS = 30.0  # a stop at once waits this long for render to leave its decoding step
_DEVICE_JOB_END = object()  # the device thread finished (or left) one submitted job
# A device job's units when units are served by place and the stage sizes its own batches
# from device memory (render.batch_size auto): the most one such batch holds (MAX_BATCH).
PLACED_JOB_UNITS = 64


@dataclass
class _Job:
    """A CPU unit sent to the pool: which pool (restarts count up) and its token, which
    the worker reports when it starts the unit."""

    stage: Stage
    unit: Unit
    pool: int
    token: int
    ctx: Context


@dataclass
class Failed:
    """A unit (or a device job) of this album raised `error`."""

    ctx: Context
    error: BaseException


class LocalExecutor:
    def __init__(self, ctx: Context, workers: int | None = None):
        self.ctx = ctx
        self.workers = default_workers() if workers is None else _at_most_cores(workers)
        self.results: queue.Queue = queue.Queue()
        # (place, order, job): the lowest place first, FIFO within it (one place in a single build).
        self._device_jobs: queue.PriorityQueue = queue.PriorityQueue()
        self._order = itertools.count()
        self._held: list = []  # heap of (place, order, ctx, stage, unit): CPU units not yet in the pool
        self._device: threading.Thread | None = None
        self._device_busy = 0  # device jobs submitted and not yet ended
        self._album_busy: dict[int, int] = {}  # id(ctx) -> its device jobs and CPU units not yet ended
        self._pool: ProcessPoolExecutor | None = None
        self._pool_gen = 0  # counts pool restarts: a job knows which pool it went to
        self._started = None  # SimpleQueue the workers tell (pid, token) on, as each unit starts
        self._halt = None  # Event: set on a stop, the workers skip the units they have not started
        self._running: dict[int, int] = {}  # token -> pid, units a worker has started
        self._worked: set[int] = set()  # pids that started a unit: past their imports
        self._jobs: dict[Future, _Job] = {}
        self._tokens = itertools.count()
        self._charged: set[int] = set()  # tokens whose worker died under them
        self._deaths: dict[tuple[str, str], int] = {}  # (stage, unit) -> worker deaths
        self._how: dict[int, str] = {}  # token -> how its worker ended ("killed by SIGKILL")
        self._stopping = False
        self._stop = threading.Event()

    # -- submitting --------------------------------------------------------------------
    def submit(self, stage: Stage, units: list[Unit], ctx: Context | None = None, place: int | None = None) -> None:
        """Start `units` of `stage` for the album `ctx` (default: the executor's own). With a
        `place`, they are served before every unit of a later place (module docstring)."""
        ctx = ctx or self.ctx
        if stage.resources == "device":
            self._start_device()
            for job in self._device_cuts(stage, units, ctx, place):
                self._device_busy += 1
                self._count(ctx, 1)
                self._device_jobs.put((place or 0, next(self._order), (ctx, stage, job)))
            if self.workers:  # warm the workers up (imports take seconds) while the device works
                self._start_pool()
        elif stage.resources == "driver" or self.workers == 0:
            self._run_here(ctx, stage, units)
        elif place is None:
            for unit in units:
                self._send(ctx, stage, unit)
        else:
            for unit in units:
                heapq.heappush(self._held, (place, next(self._order), ctx, stage, unit))
                self._count(ctx, 1)
            self._feed()

    @staticmethod
    def _device_cuts(stage: Stage, units: list[Unit], ctx: Context, place: int | None) -> list[list[Unit]]:
        """The device jobs `units` go as. Without a place, one: the stage batches them itself.
        With one, a job per batch, so that an earlier album's units can go in between (the
        same batches the stage would make of them all, when its batch size is set)."""
        if place is None:
            return [units]
        size = stage.batch_size(ctx) or PLACED_JOB_UNITS
        return [units[i:i + size] for i in range(0, len(units), size)]

    def _feed(self) -> None:
        """Held CPU units into the pool, lowest place first, one per free worker. None
        waits in the pool's own queue, where a later album's unit would stay ahead of an
        earlier album's; a free worker waits only for the driver to read a result (the
        done callback wakes it at once), milliseconds against a unit's seconds."""
        while self._held and len(self._jobs) < self.workers and not self._stopping and not interrupt.requested():
            _, _, ctx, stage, unit = heapq.heappop(self._held)
            self._count(ctx, -1)  # counted again as the pool's
            self._send(ctx, stage, unit)

    def _count(self, ctx: Context, n: int) -> None:
        left = self._album_busy.get(id(ctx), 0) + n
        if left:
            self._album_busy[id(ctx)] = left
        else:
            self._album_busy.pop(id(ctx), None)

    def busy_for(self, ctx: Context) -> bool:
        """Units of this album are still in flight (their results not yet handed back)."""
        return id(ctx) in self._album_busy

    def _send(self, ctx: Context, stage: Stage, unit: Unit) -> None:
        token = next(self._tokens)
        args = (stage.name, ctx.config.model_dump(mode="json"), ctx.album_dir, ctx.base_dir,
                [unit], log.level, token)
        with interrupt.shielded():  # a submit may start a worker process
            try:
                fut = self._start_pool().submit(run_in_worker, *args)
            except BrokenProcessPool:  # a worker died while idle (warming up during the render)
                self._restart_pool([])
                fut = self._start_pool().submit(run_in_worker, *args)
        self._jobs[fut] = _Job(stage, unit, self._pool_gen, token, ctx)
        self._count(ctx, 1)
        fut.add_done_callback(self.results.put)  # settled by wait(), in the driver's main thread

    def _run_here(self, ctx: Context, stage: Stage, units: list[Unit]) -> None:
        try:
            for done in stage.run(ctx, units):
                self.results.put((ctx, stage, done))
        except BaseException as e:  # handed to wait(), which raises it in the driver
            self.results.put(Failed(ctx, e))

    # -- the device thread -------------------------------------------------------------
    def _start_device(self) -> None:
        if self._device is None:
            # A daemon, and close() still waits for it to leave its batch (interrupt.abandoning).
            self._device = threading.Thread(target=self._device_loop, name="albumgen-device", daemon=True)
            self._device.start()

    def _device_loop(self) -> None:
        while not self._stop.is_set():
            _, _, job = self._device_jobs.get()
            if job is None:
                return
            ctx, stage, units = job
            try:
                for done in stage.run(ctx, units):
                    self.results.put((ctx, stage, done))
                    if self._stop.is_set():
                        return
            except BaseException as e:
                self.results.put(Failed(ctx, e))
            finally:
                self.results.put((_DEVICE_JOB_END, ctx))

    # -- the worker pool ---------------------------------------------------------------
    def _start_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            import multiprocessing

            # spawn, not fork: the driver holds torch and a device thread, which fork copies badly.
            mp = multiprocessing.get_context("spawn")
            with interrupt.shielded():  # the workers start with Ctrl-C blocked: it is the driver's
                self._started, self._halt = mp.SimpleQueue(), mp.Event()
                self._pool = ProcessPoolExecutor(self.workers, mp_context=mp, initializer=_start_worker,
                                                 initargs=(os.getpid(), self._started, self._halt))
                for _ in range(self.workers):
                    self._pool.submit(int)  # starts each worker now, not at the first CPU unit
        return self._pool

    def _note_started(self) -> None:
        """Read what the workers said they started (the pipe must not fill up either)."""
        while self._started is not None and not self._started.empty():
            pid, token = self._started.get()
            self._running[token] = pid
            self._worked.add(pid)

    def _worker_died(self, job: _Job) -> None:
        """A worker process died (the OOM killer, a segfault in a native library): a new
        pool, and the unit it was running sent again, WORKER_RETRIES times at most. The
        units that were only queued go again at no charge (unless none had started: then
        the worker died before any unit, and each one that waited is charged)."""
        if job.pool == self._pool_gen:  # the first of the broken pool's jobs to come back
            # A unit that finished just before (its result not read yet) was not running.
            self._restart_pool([job, *(j for f, j in self._jobs.items() if not _succeeded(f))])
        key = (job.stage.name, job.unit.id)
        if job.token in self._charged:
            self._charged.discard(job.token)
            deaths = self._deaths[key] = self._deaths.get(key, 0) + 1
            job.ctx.event("worker_died", stage=job.stage.name, unit=job.unit.id, run=deaths,
                           how=self._how.get(job.token, "died"))
            if deaths > WORKER_RETRIES:
                raise StageError(f"{job.stage.name} unit {job.unit.id}: its worker process died {deaths} times "
                                 f"(last: {self._how.get(job.token, 'died')})",
                                 "out of memory? free some memory or lower executor.workers, "
                                 "then run the same build again")
            log.warning("Warning: the worker process running %s unit %s died (%s); running it again "
                        "in a new worker (run %d of %d)", job.stage.name, job.unit.id,
                        self._how.get(job.token, "died"), deaths + 1, WORKER_RETRIES + 1)
        self._send(job.ctx, job.stage, job.unit)

    def _restart_pool(self, jobs: list[_Job]) -> None:
        old, gen = self._pool, self._pool_gen
        self._note_started()
        # The pool fails its futures before its manager thread has joined the workers: wait
        # for that join, or an exit code read now races the manager's waitpid (ECHILD reads
        # as "still running") and the dead worker goes unnamed.
        manager = getattr(old, "_executor_manager_thread", None)
        if manager is not None and manager is not threading.current_thread():
            manager.join(timeout=POOL_JOIN_SECONDS)
        procs = dict(getattr(old, "_processes", None) or {})  # pid -> Process, joined: exit codes known
        running = {j.token: self._running[j.token] for j in jobs if j.pool == gen and j.token in self._running}
        # The pool ends its other workers itself (SIGTERM): a worker that died otherwise is to blame.
        dead = {pid: _death(p) for pid, p in procs.items() if p.exitcode not in (None, -signal.SIGTERM)}
        blamed = {t for t, pid in running.items() if pid in dead}
        # No unit running: a worker that died importing is charged to every unit that waited
        # on it; one that died idle between two units, to none.
        importing = any(pid not in self._worked for pid in dead)
        charged = blamed or set(running) or ({j.token for j in jobs if j.pool == gen} if importing else set())
        self._charged |= charged
        self._how.update({t: dead.get(running.get(t), next(iter(dead.values()), "died")) for t in charged})
        running_units = sorted(f"{j.stage.name}/{j.unit.id}" for j in jobs if j.token in running)
        for ctx in {id(j.ctx): j.ctx for j in jobs}.values() or [self.ctx]:  # each album it touched
            ctx.event("worker_pool_restarted", dead=sorted(dead.values()), running=running_units)
            # What a dead worker was writing stays as its hidden temporary: gone now, not at the next build.
            if swept := atomic.sweep_temporaries(ctx.album_dir):
                ctx.event("temporaries_removed", files=[p.relative_to(ctx.album_dir).as_posix() for p in swept])
        log.debug("worker pool %d broke: processes %s, running %s, charged %s", gen,
                  {pid: p.exitcode for pid, p in procs.items()}, running, charged)
        self._pool, self._started, self._running = None, None, {}
        self._pool_gen += 1
        old.shutdown(wait=False, cancel_futures=True)

    # -- results -----------------------------------------------------------------------
    def busy(self) -> bool:
        """Units are in flight: a device job, or CPU units in the pool (after a stop was
        asked for, only the ones a worker has started: the others are skipped)."""
        if not interrupt.requested():
            return self._device_busy > 0 or bool(self._jobs) or bool(self._held)
        self._note_started()
        return self._device_busy > 0 or any(j.token in self._running for j in self._jobs.values())

    def describe(self) -> str | None:
        """The CPU units still to finish, for the first Ctrl-C's message (render tells its own batch)."""
        self._note_started()
        jobs = [j for j in self._jobs.values() if j.token in self._running]  # the others will not start
        stages = sorted({j.stage.name for j in jobs})
        n = len(jobs)
        return f"{n} unit{'' if n == 1 else 's'} in the workers ({', '.join(stages)})" if n else None

    def wait(self) -> list[tuple[Stage, Done]]:
        """Block until at least one unit finished; return every finished one. After a stop
        was asked for, nothing new starts, and an empty list means nothing is in flight.
        A unit's failure is raised here (one album: its failure is the build's)."""
        finished, failures = self.wait_albums()
        if failures:
            raise failures[0].error
        return [(stage, done) for _, stage, done in finished]

    def wait_albums(self) -> tuple[list[tuple[Context, Stage, Done]], list[Failed]]:
        """As `wait`, for several albums: every finished unit with its album, and every
        failure with its album, none of them raised."""
        while True:
            try:
                items = [self.results.get(timeout=POLL_SECONDS)]
            except queue.Empty:
                if interrupt.requested():
                    self._stop_soon()
                    if not self.busy():
                        return [], []
                continue
            break
        while True:
            try:
                items.append(self.results.get_nowait())
            except queue.Empty:
                break
        self._note_started()
        finished: list[tuple[Context, Stage, Done]] = []
        failures: list[Failed] = []
        for item in items:
            if isinstance(item, Future):
                job = self._jobs[item]
                try:
                    finished += self._settle(item)
                except Exception as e:  # the unit raised in its worker, or its workers kept dying
                    failures.append(Failed(job.ctx, e))
            elif isinstance(item, Failed):
                failures.append(item)
            elif item[0] is _DEVICE_JOB_END:
                self._device_busy -= 1
                self._count(item[1], -1)
            else:
                finished.append(item)
        self._feed()  # the pool has room again: the earliest album's held units next
        return finished, failures

    def _settle(self, fut: Future) -> list[tuple[Context, Stage, Done]]:
        job = self._jobs.pop(fut)
        self._count(job.ctx, -1)
        if fut.cancelled():  # a stop was asked for before it started
            return []
        err = fut.exception()
        if not isinstance(err, BrokenProcessPool):
            self._running.pop(job.token, None)
        if err is None:
            dones, events = fut.result()
            for name, fields in events:
                if name == LOG_LINE:  # said in the worker, shown here: above the progress, once per album
                    job.ctx.log.log(fields["level"], "%s", fields["message"], extra={"notice": fields.get("notice")})
                else:
                    job.ctx.manifest.event(name, **fields)
            return [(job.ctx, job.stage, done) for done in dones]
        if isinstance(err, BrokenProcessPool):
            if not interrupt.requested():  # stopping: its unit is simply not done yet
                self._worker_died(job)
            return []
        raise err

    def _stop_soon(self) -> None:
        """The first Ctrl-C: what has not started yet does not start."""
        if self._stopping:
            return
        self._stopping = True
        if self._halt is not None:
            self._halt.set()  # units queued in a worker are skipped; a running unit finishes
        for fut in list(self._jobs):
            fut.cancel()  # the ones still queued here
        for _, _, ctx, _, _ in self._held:  # never sent to the pool
            self._count(ctx, -1)
        self._held.clear()
        while True:
            try:
                _, _, job = self._device_jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                self._device_busy -= 1
                self._count(job[0], -1)

    def close(self) -> None:
        self._stop.set()
        if self._device is not None:
            self._device_jobs.put((-1, -1, None))  # sorts first: nothing queued starts after a close
        if self._pool is not None:
            if interrupt.requested():
                # A second Ctrl-C: the units in the workers are not waited for. After the first,
                # no unit runs any more: a worker still importing is not waited for either.
                for proc in list((getattr(self._pool, "_processes", None) or {}).values()):
                    proc.kill()
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._device is not None and self._device.is_alive():
            # A batch still in flight (an error, a second Ctrl-C) leaves at its next decoding
            # step: torch must not be mid-call in a thread while the interpreter shuts down.
            with interrupt.abandoning():
                self._device.join(DEVICE_JOIN_SECONDS)


def _succeeded(fut: Future) -> bool:
    return fut.done() and not fut.cancelled() and fut.exception() is None


def _death(proc) -> str:
    """How a worker process ended, in words: "killed by SIGKILL", "exit code 1"."""
    code = getattr(proc, "exitcode", None)
    if code is None:
        return "died"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


_started = None  # in a worker: the queue it tells the driver on, as each unit starts
_halt = None  # in a worker: set by the driver on a stop


def _start_worker(parent: int, started, halt) -> None:
    """A pool worker's start: Ctrl-C and SIGTERM are the driver's (they came in blocked: interrupt.shielded),
    it dies with its driver, and it imports every stage before its first unit."""
    global _started, _halt
    interrupt.ignore_in_worker(parent)
    lifeline.die_with_parent(parent)
    _started, _halt = started, halt
    registry.warm()  # imports every stage module once per worker, and what their first unit needs


class WorkerManifest(Manifest):
    """The manifest as a worker sees it: read-only; events go back to the driver."""

    def __init__(self, album_dir: Path):
        super().__init__(album_dir)
        self.collected: list[tuple[str, dict]] = []

    def event(self, event: str, **fields: Any) -> None:
        self.collected.append((event, fields))

    def commit(self, *a: Any, **kw: Any):
        raise RuntimeError("workers never write the manifest; the driver records their units")

    drop = set_config_hash = compact = commit


def run_in_worker(stage_name: str, config: dict, album_dir: Path, base_dir: Path, units: list[Unit],
                  level: int, token: int | None = None) -> tuple[list[Done], list[tuple[str, dict]]]:
    """A CPU unit in a worker process: a fresh read of the manifest (what upstream units the
    driver recorded), the stage's own run, the finished units back to the driver."""
    if _halt is not None and _halt.is_set():  # the driver is stopping: this unit is not started
        return [], []
    if _started is not None and token is not None:
        _started.put((os.getpid(), token))  # a death from here on is this unit's
    root = logging.getLogger("albumgen")
    manifest = WorkerManifest(album_dir)
    # Log lines go back to the driver with the units, which shows them: a worker writing to
    # the terminal itself would cut through the driver's live progress block.
    root.handlers[:] = [_Forward(manifest.collected)]
    root.setLevel(level)
    root.propagate = False
    ctx = Context(config=pipeline_model().model_validate(config), album_dir=album_dir, base_dir=base_dir,
                  manifest=manifest, log=root, progress=False)
    stage = registry.get(stage_name)()
    return list(stage.run(ctx, units)), manifest.collected


LOG_LINE = "log_line"  # an entry of a worker's collected events that is a log line, not an event


class _Forward(logging.Handler):
    def __init__(self, into: list):
        super().__init__()
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append((LOG_LINE, {"level": record.levelno, "message": record.getMessage(),
                                     "notice": getattr(record, "notice", None)}))
