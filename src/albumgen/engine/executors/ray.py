"""The ray executor (`executor: {kind: ray}`, `albumgen build --executor ray`): every GPU of
a machine or of a Ray cluster renders, the cluster's CPUs pick and master, and the driver
stays the only writer of the manifest and of the album folder (docs/architecture.md).

- "device" units (render): one actor per GPU (num_gpus=1), which loads the model at its
  first batch and keeps it. The ready units are cut into batches (render.batch_size, else
  an even share per actor) kept in a queue here; each goes to the next actor that is free,
  so a fast actor takes more batches and none idles while work waits. On a cluster without
  GPUs the actors ask for the custom resource `albumgen_render` where the cluster has it
  (`ray start --resources '{"albumgen_render": 2}'`), else for a CPU.
- "cpu" units (pick, sequence, master...): one Ray task each, with declared CPU and memory.
- "driver" units (prompts): in the driver, as with the local executor.

No shared filesystem: a unit's inputs (Unit.reads, Unit.reads_pipeline) go to the worker
through the object store, each file put once and its reference reused; the worker sends
back its outputs as bytes and the driver writes and records them (remote.py).

Faults: a render actor that dies (SIGKILL, OOM killer, a lost node) is restarted by Ray
(max_restarts) and the batch it had is queued again, for whichever actor frees up first;
only that batch is rendered twice. A CPU task whose worker dies is retried by Ray
(max_retries). A driver that dies takes its actors and tasks with it (they belong to its
job); what it recorded stays, and the next build, local or Ray, resumes from there.

Imported only when chosen: `ray` is an optional extra (`pip install 'albumgen[ray]'`).
"""
from __future__ import annotations

import logging
import math
import os
import signal
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from ... import registry
from ...errors import ConfigError, StageError
from ...stage import Context, Done, Stage, Unit
from .. import interrupt
from . import guard
from .ray_head import answers, lost_head_error
from .remote import Shipment, album_top, land, run_units

log = logging.getLogger("albumgen")

INSTALL = "pip install 'albumgen[ray]'"
RENDER_RESOURCE = "albumgen_render"  # custom resource: render actors on a cluster without GPUs
TASK_MEMORY = 1 << 30  # bytes a CPU unit may use: a 10-minute take decoded, analysed and encoded
ACTOR_RESTARTS = 4  # times Ray brings back a render actor that died
BATCH_TRIES = 3  # runs of one batch whose actor died, before the build stops
TASK_RETRIES = 3  # runs of a CPU unit whose worker died, after the first
# Units one actor call takes when the stage sets no batch size: not a batch (the stage sizes
# its own batches from device memory inside the call), but how much work a lost actor costs.
UNITS_PER_CALL = 64
FILE_REFS = 512  # shipped files kept in the object store for reuse (takes read by pick, then master)
HEAD_PROBE_SECONDS = 1.0  # how often a wait looks whether the head's GCS still answers
HEAD_MISSES = 3  # probes in a row that find no head: it is gone (Ray itself waits 60 s, then kills us)


def import_ray():
    """Ray, or the one-line error that says how to install it."""
    try:
        import ray
    except ImportError as e:  # not installed, or installed without a dependency it imports
        why = "ray is not installed" if e.name == "ray" else f"import ray failed: {e}"
        raise ConfigError(f"executor.kind: ray needs the ray extra ({why})", f"install it: {INSTALL}") from None
    return ray


class DeviceWorker:
    """A render actor: one process per GPU whose module-level model cache (the render
    stage's) keeps the model loaded from one batch to the next."""

    def pid(self) -> int:
        return os.getpid()

    def run(self, *args: Any) -> tuple:
        import ray

        return run_units(*args, fetch=ray.get)


def run_task(*args: Any) -> tuple:
    """A CPU unit as a Ray task."""
    import ray

    return run_units(*args, fetch=ray.get)


def warm() -> None:
    """Imports every stage in a CPU worker while the actors render (seconds per worker)."""
    registry.warm()


class DeviceProgress:
    """One line per finished batch, across every actor: the render stage's own progress
    line lives in each actor, where nobody sees it."""

    def __init__(self):
        self.total = self.finished = 0
        self.started: float | None = None

    def asked(self, n: int) -> None:
        self.total += n
        if self.started is None:
            self.started = time.monotonic()

    def done(self, stage: str, n: int, actors: int) -> None:
        self.finished += n
        rate = self.finished / max(1e-9, time.monotonic() - (self.started or time.monotonic()))
        eta = (self.total - self.finished) / rate if rate else 0.0
        log.info("%s: %d/%d on %d actor%s, %.2f units/s, ETA %s", stage, self.finished, self.total, actors,
                 "" if actors == 1 else "s", rate, _clock(eta))


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [""])[0][:200]


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class RayExecutor:
    def __init__(self, ctx: Context, address: str | None = None, actors: int | None = None, keep: bool = False):
        self.ray = ray = import_ray()
        self.ctx = ctx
        if ray.is_initialized():  # a Ray the caller started (tests, notebooks): use it as it is
            if address:
                log.info("Ray is already initialised in this process; executor.address %s is not used", address)
        else:
            # No address: RAY_ADDRESS, else a cluster `ray start` made on this machine, else a
            # new local Ray. ray.init takes SIGTERM over; albumgen's handler (stop after the
            # step in progress, exit 130) is put back.
            term = signal.getsignal(signal.SIGTERM)
            try:
                ray.init(address=address, log_to_driver=True)
            except ConnectionError as e:  # "auto" with no cluster on this machine, a head that went away
                raise ConfigError(f"executor.address: cannot connect to Ray at {address}: {str(e).splitlines()[0]}",
                                  "start the cluster (`ray start --head`), or leave executor.address out "
                                  "to start one for this build") from None
            finally:
                if threading.current_thread() is threading.main_thread():
                    signal.signal(signal.SIGTERM, term)
        self.asked_actors = actors
        self.actors: list = []
        self.pids: list[int | None] = []
        self.free: deque[int] = deque()  # actors waiting for a batch
        self.batches: deque[tuple[Stage, list[Unit], int]] = deque()  # (stage, units, runs so far)
        self.running: dict[Any, tuple] = {}  # batch ref -> (actor, stage, units, runs)
        self.probes: dict[Any, int] = {}  # pid ref -> actor: started, or restarted after a death
        self.tasks: dict[Any, tuple[Stage, Unit]] = {}  # task ref -> its stage and unit
        self.finished: list = []  # (stage, Done) ready for the driver, or an exception
        self.refs: dict[tuple, Any] = {}  # (path, size, mtime) -> object ref of its bytes
        self.remote_task = ray.remote(run_task)
        self.warming: list = []  # warm-up tasks, sent when the actors start
        self.progress = DeviceProgress()
        self._state_ref: tuple | None = None  # ((journal ops, records), ref of the records)
        self._lost = 0  # actors whose restarts are used up
        self._pool_key: tuple = ()  # where idle actors are kept for the next build (close)
        self.keep = keep  # another album of this process follows: keep idle actors for it
        self.config = ctx.config.model_dump(mode="json")
        self.level = logging.getLogger("albumgen").getEffectiveLevel()
        self.head = ray.get_runtime_context().gcs_address  # "host:port" of the cluster's head
        guard.tell_head(self.head)
        self.head_lost = False
        self._head_probed, self._head_misses = 0.0, 0

    # -- submitting --------------------------------------------------------------------
    def submit(self, stage: Stage, units: list[Unit]) -> None:
        if stage.resources == "driver":
            try:
                self.finished += [(stage, done) for done in stage.run(self.ctx, units)]
            except BaseException as e:  # raised by wait(), in the driver's loop, like the local executor
                self.finished.append(e)
        elif stage.resources == "device":
            self._start_actors()
            size = stage.batch_size(self.ctx) or min(UNITS_PER_CALL, math.ceil(len(units) / len(self.actors)))
            for i in range(0, len(units), size):
                self.batches.append((stage, units[i:i + size], 0))
            self.progress.asked(len(units))
            self._dispatch()
        else:
            state = self._state()
            for unit in units:
                ref = self.remote_task.options(num_cpus=1, memory=TASK_MEMORY, max_retries=TASK_RETRIES,
                                               name=f"albumgen {stage.name} {unit.id}").remote(
                    stage.name, self.config, self._ship([unit]), state, [unit], self.level)
                self.tasks[ref] = (stage, unit)

    def _state(self):
        """The manifest's records in the object store, put again only after they changed
        (every commit and drop is one journal op), not once per unit or batch."""
        store = self.ctx.manifest.store
        version = (store.journal_ops, len(store.state.records))
        if self._state_ref is None or self._state_ref[0] != version:
            self._state_ref = (version, self.ray.put(store.state))
        return self._state_ref[1]

    def _ship(self, units: list[Unit]) -> Shipment:
        ctx = self.ctx
        ship = Shipment(album_name=ctx.album_dir.name, base_dir=str(ctx.base_dir),
                        album_top=album_top(ctx.album_dir, ctx.base_dir))
        for unit in units:
            for rel in unit.reads:
                ship.files[rel] = self._ref(ctx.album_dir / rel)
            for rel in unit.reads_pipeline:
                path = ctx.base_dir / Path(rel).expanduser()
                if not Path(rel).expanduser().is_absolute():  # an absolute path: on every node, like a model
                    ship.pipeline[rel] = self._ref(path)
        return ship

    def _ref(self, path: Path):
        """The object ref of a file's bytes, put once while the file is unchanged."""
        st = path.stat()  # a read that is not there: the stage's own check names it, here
        key = (str(path), st.st_size, st.st_mtime_ns)
        if key not in self.refs:
            if len(self.refs) >= FILE_REFS:  # oldest first: a take is read by pick, then sequence, then master
                self.refs.pop(next(iter(self.refs)))
            self.refs[key] = self.ray.put(path.read_bytes())
        return self.refs[key]

    # -- render actors -----------------------------------------------------------------
    def _start_actors(self) -> None:
        if self.actors:
            return
        count, options = self._actor_placement()
        self._pool_key = (self.ray.get_runtime_context().get_job_id(), count, repr(options))
        idle = _idle_actors.pop(self._pool_key, None)
        _idle_actors.clear()  # another placement's or an earlier Ray's: not used again
        if idle:  # a catalogue's next album: the actors are up, their model maybe still loaded
            self.actors, self.pids = [a for a, _ in idle], [pid for _, pid in idle]
            self.free.extend(range(len(idle)))
            self.ctx.event("ray_actors", count=count, resources=options, reused=self.pids)
            return
        cls = self.ray.remote(DeviceWorker).options(max_restarts=ACTOR_RESTARTS, max_task_retries=0, **options)
        for i in range(count):
            actor = cls.remote()
            self.actors.append(actor)
            self.pids.append(None)
            self.probes[actor.pid.remote()] = i
        # Warm the CPU workers up while the actors load their models, as the local pool does.
        warm_task = self.ray.remote(warm).options(num_cpus=1, name="albumgen warm-up")
        self.warming = [warm_task.remote() for _ in range(int(self.ray.cluster_resources().get("CPU", 1)))]
        self.ctx.event("ray_actors", count=count, resources=options)
        log.info("Ray: %d render actor%s (%s)", count, "" if count == 1 else "s",
                 ", ".join(f"{k}={v}" for k, v in options.items()))

    def _actor_placement(self) -> tuple[int, dict]:
        have = self.ray.cluster_resources()
        gpus, custom, cpus = int(have.get("GPU", 0)), int(have.get(RENDER_RESOURCE, 0)), int(have.get("CPU", 1))
        if gpus:
            most, options = gpus, {"num_gpus": 1, "num_cpus": 1}
        elif custom:
            most, options = custom, {"num_cpus": 0, "resources": {RENDER_RESOURCE: 1}}
        else:  # each actor holds a CPU: leave one for the CPU units, or they would never run
            most, options = max(1, cpus - 1), {"num_cpus": 1}
        want = self.asked_actors or (most if gpus or custom else 1)
        if want > most:
            log.warning("Ray: executor.actors is %d but the cluster has room for %d render actors; starting %d",
                        want, most, most)
        return min(want, most), options

    def busy(self) -> bool:
        """Units are in flight: batches on the actors, CPU tasks."""
        return bool(self.running or self.tasks)

    def describe(self) -> str | None:
        """What the first Ctrl-C waits for: the batches on the actors and the CPU tasks."""
        parts = []
        if self.running:
            units = sum(len(units) for _, _, units, _ in self.running.values())
            rate = self.progress.finished / max(1e-9, time.monotonic() - (self.progress.started or time.monotonic()))
            eta = f", ETA {_clock(units / rate)}" if rate else ""
            parts.append(f"the batches in flight ({units} units on {len(self.running)} actors{eta})")
        if self.tasks:
            parts.append(f"{len(self.tasks)} CPU tasks")
        return " and ".join(parts) or None

    def _dispatch(self) -> None:
        if interrupt.requested():  # a stop was asked for: no batch starts
            return
        while self.batches and self.free:
            i = self.free.popleft()
            stage, units, runs = self.batches.popleft()
            ref = self.actors[i].run.remote(stage.name, self.config, self._ship(units), self._state(), units,
                                            self.level)
            self.running[ref] = (i, stage, units, runs + 1)
            self.ctx.event("batch_sent", stage=stage.name, actor=i, pid=self.pids[i], units=[u.id for u in units],
                           run=runs + 1)

    # -- results -----------------------------------------------------------------------
    def wait(self) -> list[tuple[Stage, Done]]:
        """Block until at least one unit finished; return every finished one."""
        ray = self.ray
        while not self.finished:
            if interrupt.requested() and not self.busy():  # a stop: what was in flight is back
                return []
            self._check_head()
            refs = [*self.running, *self.tasks, *self.probes]
            if not refs:
                raise StageError("units wait for render actors, but none is left", "see the log: every actor died")
            ready, _ = ray.wait(refs, num_returns=1, timeout=1.0)
            if not ready:
                continue
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
            for ref in ready:
                self._settle(ref)
            self._dispatch()
        items, self.finished = self.finished, []
        for item in items:
            if isinstance(item, BaseException):
                raise item
        return items

    def _check_head(self) -> None:
        """A head that went away (stopped, its machine down) ends the build in seconds with
        one line: Ray would retry for a minute, then end the driver with its own message
        and no fold of what was recorded."""
        now = time.monotonic()
        if now - self._head_probed < HEAD_PROBE_SECONDS:
            return
        self._head_probed = now
        if answers(self.head, HEAD_PROBE_SECONDS):
            self._head_misses = 0
            return
        self._head_misses += 1
        if self._head_misses >= HEAD_MISSES:
            self.head_lost = True
            self.ctx.event("ray_head_lost", address=self.head)
            raise lost_head_error(self.head)

    def _settle(self, ref) -> None:
        from ray.exceptions import RayError, RayTaskError

        if ref in self.probes:
            i = self.probes.pop(ref)
            try:
                pid = self.ray.get(ref)
            except RayError as e:  # restarts used up, its node gone: the others go on
                self._lost += 1
                self.ctx.event("actor_lost", actor=i, error=str(e)[:200])
                log.warning("Ray: render actor %d is gone for good: %s", i, str(e).splitlines()[0])
                return
            self.ctx.event("actor_started" if self.pids[i] is None else "actor_restarted", actor=i, pid=pid)
            self.pids[i] = pid
            self.free.append(i)
            return
        try:
            finished, events = self.ray.get(ref)
        except RayTaskError as e:  # the stage raised: the same error as a local build gives
            cause = e.cause if isinstance(e.cause, BaseException) else e
            raise cause from None
        except RayError as e:  # its process died: RayActorError, WorkerCrashedError, OutOfMemoryError,
            self._worker_died(ref, e)  # NodeDiedError, ObjectLostError...: Ray's retries are used up
            return
        if ref in self.running:
            i, stage, *_ = self.running.pop(ref)
            self.free.append(i)
            self.progress.done(stage.name, len(finished), len(self.actors) - self._lost)
        else:
            stage, _ = self.tasks.pop(ref)
        for name, fields in events:
            self.ctx.event(name, **fields)
        self.finished += [(stage, land(self.ctx, stage.name, done, blobs)) for done, blobs in finished]

    def _worker_died(self, ref, err: Exception) -> None:
        from ray.exceptions import LocalRayletDiedError

        if isinstance(err, LocalRayletDiedError):  # not the unit's fault, and no retry helps
            raise StageError(f"lost the Ray raylet of this node ({_first_line(err)})",
                             "start Ray on this node again and run the same build; every recorded unit is kept")
        if ref not in self.running:  # a CPU task's worker died past its retries
            stage, unit = self.tasks.pop(ref)
            raise StageError(f"{stage.name} unit {unit.id}: its Ray worker died {TASK_RETRIES + 1} times "
                             f"(last: {type(err).__name__}: {_first_line(err)})",
                             "out of memory? see the Ray logs of that node, then run the same build again")
        i, stage, units, runs = self.running.pop(ref)
        ids = [u.id for u in units]
        self.ctx.event("actor_died", stage=stage.name, actor=i, pid=self.pids[i], units=ids, run=runs)
        log.warning("Ray: render actor %d (pid %s) died during %s; running the batch again", i, self.pids[i],
                    ", ".join(ids))
        if runs >= BATCH_TRIES:
            raise StageError(f"{stage.name}: the batch {', '.join(ids[:4])} killed its actor {runs} times",
                             "see the Ray logs (out of memory? lower render.batch_size)")
        self.batches.appendleft((stage, units, runs))
        # Ray restarts the actor (max_restarts); its pid answers once it is back.
        self.probes[self.actors[i].pid.options(max_task_retries=-1).remote()] = i

    def close(self) -> None:
        if self.head_lost:  # nothing to cancel or kill: asking a dead head would only hang
            self.running, self.tasks, self.probes, self.actors = {}, {}, {}, []
            _idle_actors.clear()
            return
        for ref in [*self.running, *self.tasks]:
            try:
                self.ray.cancel(ref)
            except Exception as e:  # already finished, or its worker is gone
                log.debug("cancel %s: %s", ref, e)
        if self.keep and self.actors and len(self.free) == len(self.actors) and not self.batches:
            # Every actor idle and alive, and another album follows (a catalogue): kept for
            # it, so it starts no actor and loads no model again. Otherwise they go: idle,
            # they would hold their GPUs from every other job of the cluster.
            _idle_actors[self._pool_key] = [(self.actors[i], self.pids[i]) for i in sorted(self.free)]
        else:  # a batch in flight (an error, Ctrl-C): stop it where it is
            for actor in self.actors:
                self.ray.kill(actor, no_restart=True)
        self.running, self.tasks, self.probes, self.actors = {}, {}, {}, []
        self.refs.clear()


# Render actors between two builds of this process: (Ray job, count, placement) -> [(actor, pid)].
_idle_actors: dict[tuple, list] = {}
