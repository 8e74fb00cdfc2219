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

Several albums at once (a catalogue on one frontier, catalogue.py), as the local executor
serves them: each unit goes with its album's Context and comes back with it, and units
with a `place` (the order the albums opened in) are served by it: the earliest album's
batches go to the next free actor first, and its CPU units to the cluster's CPUs first
(units with a place wait here, not in Ray's queue, until a CPU is free). One album's
failure comes back as that album's (wait_albums); only what stops every album (the head
or this node's raylet lost, no render actor left) is raised.

No shared filesystem: a unit's inputs (Unit.reads, Unit.reads_pipeline) go to the worker
through the object store, each file put once and its reference reused; the worker sends
back its outputs as bytes and the driver writes and records them (remote.py). Where data
stays: a render actor puts its takes in its own node's object store; the driver fetches
each once (to write the album, what a resume reads) and hands the same reference to the
units that read the take (pick, master), which Ray is asked to run on that node, so a
take does not cross the network again. The records go as a snapshot and the changes made
since (remote.Records), a new snapshot only when the changes have grown past half of it.
Each album's bytes through the object store are in its `object_store` events.

Faults: a render actor that dies (SIGKILL, OOM killer, a lost node) is restarted by Ray
(max_restarts) and the batch it had is queued again, for whichever actor frees up first;
only that batch is rendered twice. A CPU task whose worker dies is retried by Ray
(max_retries). A driver that dies takes its actors and tasks with it (they belong to its
job); what it recorded stays, and the next build, local or Ray, resumes from there.

Imported only when chosen: `ray` is an optional extra (`pip install 'albumgen[ray]'`).
"""
from __future__ import annotations

import heapq
import itertools
import logging
import math
import os
import pickle
import signal
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ... import registry
from ...errors import ConfigError, StageError
from ...sizes import counted
from ...stage import Context, Done, Stage, Unit
from .. import interrupt
from . import guard
from .local import Failed
from .ray_head import answers, lost_head_error
from .remote import Records, Shipment, album_top, land, run_units

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
NODE_FILE = 64 << 10  # outputs an actor keeps in its node's store for the units that read them: takes, not sidecars
MAX_DELTAS = 32  # changes shipped beside a records snapshot (each a fetch per unit) before a new snapshot
KEPT_ALBUMS = 4  # albums whose records stay in the object store while idle (a catalogue has up to four open)
LOST_INPUT_TRIES = 2  # sends of a unit whose input died with its render actor, the first included
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

    def where(self) -> tuple[int, str]:
        """This actor's process and node (a hex id), for the events."""
        import ray

        return os.getpid(), ray.get_runtime_context().get_node_id()

    def run(self, *args: Any) -> tuple:
        """run_units, and the seconds it took: an actor's busy time, summed by bench/scale.py.
        Outputs of NODE_FILE bytes or more go back as references to this node's object
        store, so the units that read them can run here (module docstring)."""
        import ray

        started = time.monotonic()
        finished, events = run_units(*args, fetch=ray.get)
        finished = [(done, {rel: ray.put(blob) if len(blob) >= NODE_FILE else blob for rel, blob in blobs.items()})
                    for done, blobs in finished]
        return finished, events, time.monotonic() - started


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


@dataclass
class _Album:
    """What the executor keeps of an album: its config (dumped once), its records as the
    workers get them, and its bytes through the object store since its last event."""

    ctx: Context  # held, so that no later album reuses its id() while this is kept
    config: dict
    version: tuple = ()  # the store, its version and the config hash when the records were last shipped
    base: Any = None  # ref of the pickled snapshot
    base_size: int = 0  # its records
    deltas: list = field(default_factory=list)  # refs of the pickled changes since, oldest first
    delta_size: int = 0  # records the changes carry
    seen: dict = field(default_factory=dict)  # the records as shipped: a shallow copy, compared by identity
    put: int = 0  # bytes this driver put for the album (files, records)
    fetched: int = 0  # bytes of outputs the driver fetched
    on_node: int = 0  # bytes read from the store of the node that made them (takes kept by their actor)


@dataclass
class _Task:
    """A CPU unit on its way, as a Ray task."""

    stage: Stage
    unit: Unit
    ctx: Context
    sends: int  # times it was sent (again when a take it read died with its actor)
    keys: list[tuple]  # the keys of the files it reads in RayExecutor.refs


@dataclass
class _Batch:
    """Render units of one album on their way to an actor: queued, or running on one."""

    place: int  # the album's place (0 in a single build): the lowest is served first
    order: int  # FIFO within a place; a batch whose actor died keeps its order and goes first again
    ctx: Context
    stage: Stage
    units: list[Unit]
    runs: int = 0  # times an actor took it
    keys: list = field(default_factory=list)  # the keys of the files it reads in RayExecutor.refs, when sent

    def __lt__(self, other: _Batch) -> bool:
        return (self.place, self.order) < (other.place, other.order)


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [""])[0][:200]


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class RayExecutor:
    def __init__(self, ctx: Context, address: str | None = None, actors: int | None = None):
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
        self.nodes: list[str | None] = []  # the node each actor runs on
        self.free: deque[int] = deque()  # actors waiting for a batch
        self.batches: list[_Batch] = []  # heap: the earliest album's first batch on top
        self.running: dict[Any, tuple[int, _Batch]] = {}  # batch ref -> (actor, batch)
        self.probes: dict[Any, int] = {}  # pid ref -> actor: started, or restarted after a death
        self.tasks: dict[Any, _Task] = {}  # task ref -> its unit
        self.held: list = []  # heap of (place, order, ctx, stage, unit): CPU units waiting for a free CPU
        self.finished: list = []  # (ctx, stage, Done) ready for the driver, or Failed(ctx, error)
        self.refs: dict[tuple, Any] = {}  # (path, size, mtime) -> object ref of its bytes
        self.ref_owner: dict[tuple, int] = {}  # keys of self.refs that an actor put: -> that actor
        self.remote_task = ray.remote(run_task)
        self.warming: list = []  # warm-up tasks, sent when the actors start
        self.progress = DeviceProgress()
        self._order = itertools.count()
        self._album_busy: dict[int, int] = {}  # id(ctx) -> its batches and CPU units not yet handed back
        self._albums: OrderedDict[int, _Album] = OrderedDict()  # id(ctx) -> what is kept of it, last used last
        self._events = ctx  # the album that executor-wide events (actors started, lost) go to
        self._cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))  # CPU units in flight, when held
        self._lost = 0  # actors whose restarts are used up
        self.level = logging.getLogger("albumgen").getEffectiveLevel()
        self.head = ray.get_runtime_context().gcs_address  # "host:port" of the cluster's head
        guard.tell_head(self.head)
        self.head_lost = False
        self._head_probed, self._head_misses = 0.0, 0

    # -- submitting --------------------------------------------------------------------
    def submit(self, stage: Stage, units: list[Unit], ctx: Context | None = None, place: int | None = None) -> None:
        """Start `units` of `stage` for the album `ctx` (default: the executor's own). With a
        `place`, they are served before every unit of a later place (module docstring)."""
        ctx = ctx or self.ctx
        self._events = ctx
        if stage.resources == "driver":
            try:
                self.finished += [(ctx, stage, done) for done in stage.run(ctx, units)]
            except BaseException as e:  # handed back by wait_albums, like the local executor
                self.finished.append(Failed(ctx, e))
        elif stage.resources == "device":
            self._start_actors()
            size = stage.batch_size(ctx) or min(UNITS_PER_CALL, math.ceil(len(units) / len(self.actors)))
            for i in range(0, len(units), size):
                heapq.heappush(self.batches, _Batch(place or 0, next(self._order), ctx, stage, units[i:i + size]))
                self._count(ctx, 1)
            self.progress.asked(len(units))
            self._dispatch()
        elif place is None:
            for unit in units:
                self._send(ctx, stage, unit)
        else:
            for unit in units:
                heapq.heappush(self.held, (place, next(self._order), ctx, stage, unit))
                self._count(ctx, 1)
            self._feed()

    def _send(self, ctx: Context, stage: Stage, unit: Unit, sends: int = 1) -> None:
        try:
            ship, keys = self._ship(ctx, [unit])
        except OSError as e:  # a take it reads is gone from its album: that album's failure, as for a batch
            self.finished.append(Failed(ctx, e))
            return
        node = self._node_of(ctx, keys)
        options = {}
        if node is not None:  # where the takes it reads were rendered; elsewhere when that node is full
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node_id=node, soft=True)
        ref = self.remote_task.options(num_cpus=1, memory=TASK_MEMORY, max_retries=TASK_RETRIES,
                                       name=f"albumgen {stage.name} {unit.id}", **options).remote(
            stage.name, self._album(ctx).config, ship, self._state(ctx), [unit], self.level)
        self.tasks[ref] = _Task(stage, unit, ctx, sends, keys)
        self._count(ctx, 1)

    def _node_of(self, ctx: Context, keys: list[tuple]) -> str | None:
        """The node whose actor made most of the bytes the unit reads, if any did; counts
        them as read on that node."""
        by_node: dict[str, list] = {}
        for key in keys:
            owner = self.ref_owner.get(key)
            if owner is not None and self.nodes[owner] is not None:
                by_node.setdefault(self.nodes[owner], []).append(key)
        if not by_node:
            return None
        node, keys = max(by_node.items(), key=lambda kv: sum(k[1] for k in kv[1]))
        self._album(ctx).on_node += sum(k[1] for k in keys)
        return node

    def _feed(self) -> None:
        """Held CPU units to Ray, the earliest album's first, while a CPU of the cluster is
        free: in Ray's own queue a later album's unit would stay ahead of an earlier one's."""
        while self.held and len(self.tasks) < self._cpus and not interrupt.requested():
            _, _, ctx, stage, unit = heapq.heappop(self.held)
            self._count(ctx, -1)  # counted again as a task
            self._send(ctx, stage, unit)

    def _count(self, ctx: Context, n: int) -> None:
        left = self._album_busy.get(id(ctx), 0) + n
        if left:
            self._album_busy[id(ctx)] = left
            return
        # Nothing of it in flight: what it sent and fetched since the last event is known.
        self._album_busy.pop(id(ctx), None)
        album = self._albums.get(id(ctx))
        if album is not None and album.ctx is ctx and (album.put or album.fetched or album.on_node):
            ctx.event("object_store", put=album.put, fetched=album.fetched, on_node=album.on_node)
            album.put = album.fetched = album.on_node = 0

    def busy_for(self, ctx: Context) -> bool:
        """Units of this album are still in flight (their results not yet handed back)."""
        return id(ctx) in self._album_busy

    def _album(self, ctx: Context) -> _Album:
        album = self._albums.get(id(ctx))
        if album is None or album.ctx is not ctx:
            album = self._albums[id(ctx)] = _Album(ctx, ctx.config.model_dump(mode="json"))
            # The oldest idle albums' records leave the object store (a catalogue is done with them).
            idle = [k for k in self._albums if k not in self._album_busy and k != id(ctx)]
            for k in idle[:max(0, len(self._albums) - KEPT_ALBUMS)]:
                del self._albums[k]
        self._albums.move_to_end(id(ctx))
        return album

    def _state(self, ctx: Context) -> Records:
        """The album's records as the workers get them: a snapshot in the object store and
        the changes since, each put once. The changes are found by comparing the records
        with those last shipped (a put replaces a record, so identity says what changed);
        a new snapshot when they carry more than half as many records as it (or MAX_DELTAS)."""
        store, album = ctx.manifest.store, self._album(ctx)
        version = (store, store.version, store.state.album_config_hash)  # a store read again starts over
        if album.version == version and album.base is not None:
            return Records(album.base, list(album.deltas))
        records = store.state.records
        changed = {k: r for k, r in records.items() if album.seen.get(k) is not r}
        dropped = [k for k in album.seen if k not in records]
        if album.base is None or len(album.deltas) >= MAX_DELTAS \
                or album.delta_size + len(changed) + len(dropped) > album.base_size // 2 + 16:
            album.base, album.deltas = self._put(album, store.state), []
            album.base_size, album.delta_size = len(records), 0
        else:
            album.deltas.append(self._put(album, (changed, dropped, store.state.album_config_hash)))
            album.delta_size += len(changed) + len(dropped)
        album.seen, album.version = dict(records), version
        return Records(album.base, list(album.deltas))

    def _put(self, album: _Album, obj: Any):
        blob = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        album.put += len(blob)
        return self.ray.put(blob)

    def _ship(self, ctx: Context, units: list[Unit]) -> tuple[Shipment, list[tuple]]:
        """What the units read, and the keys of self.refs it took them from."""
        ship, keys = Shipment(album_name=ctx.album_dir.name, base_dir=str(ctx.base_dir),
                              album_top=album_top(ctx.album_dir, ctx.base_dir)), []
        for unit in units:
            for rel in unit.reads:
                ship.files[rel] = self._ref(ctx, ctx.album_dir / rel, keys)
            for rel in unit.reads_pipeline:
                path = ctx.base_dir / Path(rel).expanduser()
                if not Path(rel).expanduser().is_absolute():  # an absolute path: on every node, like a model
                    ship.pipeline[rel] = self._ref(ctx, path, keys)
        return ship, keys

    def _ref(self, ctx: Context, path: Path, keys: list):
        """The object ref of a file's bytes, put once while the file is unchanged (or the
        one its render actor put)."""
        st = path.stat()  # a read that is not there: the stage's own check names it, here
        key = (str(path), st.st_size, st.st_mtime_ns)
        keys.append(key)
        if key not in self.refs:
            self._keep(key, self.ray.put(path.read_bytes()))
            self._album(ctx).put += st.st_size
        return self.refs[key]

    def _keep(self, key: tuple, ref, owner: int | None = None) -> None:
        if len(self.refs) >= FILE_REFS:  # oldest first: a take is read by pick, then sequence, then master
            old = next(iter(self.refs))
            self.refs.pop(old)
            self.ref_owner.pop(old, None)
        self.refs[key] = ref
        if owner is not None:
            self.ref_owner[key] = owner

    def _forget_actor(self, i: int) -> None:
        """The files actor i kept died with it: ship the driver's copies from now on."""
        self._forget_keys([k for k, owner in self.ref_owner.items() if owner == i])

    # -- render actors -----------------------------------------------------------------
    def _start_actors(self) -> None:
        if self.actors:
            return
        count, options = self._actor_placement()
        cls = self.ray.remote(DeviceWorker).options(max_restarts=ACTOR_RESTARTS, max_task_retries=0, **options)
        for i in range(count):
            actor = cls.remote()
            self.actors.append(actor)
            self.pids.append(None)
            self.nodes.append(None)
            self.probes[actor.where.remote()] = i
        # Warm the CPU workers up while the actors load their models, as the local pool does.
        warm_task = self.ray.remote(warm).options(num_cpus=1, name="albumgen warm-up")
        self.warming = [warm_task.remote() for _ in range(int(self.ray.cluster_resources().get("CPU", 1)))]
        self._events.event("ray_actors", count=count, resources=options)
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
            units = sum(len(batch.units) for _, batch in self.running.values())
            rate = self.progress.finished / max(1e-9, time.monotonic() - (self.progress.started or time.monotonic()))
            eta = f", ETA {_clock(units / rate)}" if rate else ""
            parts.append(f"the batches in flight ({counted(units, 'unit')} on {counted(len(self.running), 'actor')}"
                         f"{eta})")
        if self.tasks:
            parts.append(counted(len(self.tasks), "CPU task"))
        return " and ".join(parts) or None

    def _dispatch(self) -> None:
        if interrupt.requested():  # a stop was asked for: no batch starts
            return
        while self.batches and self.free:
            i = self.free.popleft()
            batch = heapq.heappop(self.batches)
            batch.runs += 1
            ctx = batch.ctx
            try:
                ship, batch.keys = self._ship(ctx, batch.units)
            except OSError as e:  # a take it reads is gone from its album: that album's failure
                self.free.appendleft(i)
                self._count(ctx, -1)
                self.finished.append(Failed(ctx, e))
                continue
            ref = self.actors[i].run.remote(batch.stage.name, self._album(ctx).config, ship, self._state(ctx),
                                            batch.units, self.level)
            self.running[ref] = (i, batch)
            ctx.event("batch_sent", stage=batch.stage.name, actor=i, pid=self.pids[i],
                      units=[u.id for u in batch.units], run=batch.runs)

    # -- results -----------------------------------------------------------------------
    def wait(self) -> list[tuple[Stage, Done]]:
        """Block until at least one unit finished; return every finished one. A unit's
        failure is raised here (one album: its failure is the build's)."""
        finished, failures = self.wait_albums()
        if failures:
            raise failures[0].error
        return [(stage, done) for _, stage, done in finished]

    def wait_albums(self) -> tuple[list[tuple[Context, Stage, Done]], list[Failed]]:
        """As `wait`, for several albums: every finished unit with its album, and every
        failure with its album, none of them raised. What stops every album is raised."""
        ray = self.ray
        while not self.finished:
            if interrupt.requested() and not self.busy():  # a stop: what was in flight is back
                return [], []
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
            self._feed()
        items, self.finished = self.finished, []
        return [i for i in items if not isinstance(i, Failed)], [i for i in items if isinstance(i, Failed)]

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
            self._events.event("ray_head_lost", address=self.head)
            raise lost_head_error(self.head)

    def _settle(self, ref) -> None:
        from ray.exceptions import ObjectLostError, RayError, RayTaskError

        if ref in self.probes:
            i = self.probes.pop(ref)
            try:
                pid, node = self.ray.get(ref)
            except RayError as e:  # restarts used up, its node gone: the others go on
                self._lost += 1
                self._forget_actor(i)
                self._events.event("actor_lost", actor=i, error=str(e)[:200])
                log.warning("Ray: render actor %d is gone for good: %s", i, str(e).splitlines()[0])
                return
            self._events.event("actor_started" if self.pids[i] is None else "actor_restarted", actor=i, pid=pid,
                               node=node)
            self.pids[i], self.nodes[i] = pid, node
            self.free.append(i)
            return
        try:
            finished, events, *seconds = self.ray.get(ref)  # an actor's batch also says how long it took
            blobs = self.ray.get([b for _, out in finished for b in out.values() if not isinstance(b, bytes)])
        except RayTaskError as e:  # the stage raised: the same error as a local build gives
            cause = e.cause if isinstance(e.cause, BaseException) else e
            if isinstance(cause, ObjectLostError) and self._resend(ref):  # a take kept by an actor that died
                return
            self.finished.append(Failed(self._handed_back(ref), cause))
            return
        except RayError as e:  # its process died: RayActorError, WorkerCrashedError, OutOfMemoryError,
            self._worker_died(ref, e)  # NodeDiedError, ObjectLostError...: Ray's retries are used up
            return
        actor, batch = self.running.get(ref, (None, None))
        stage, ctx = (batch.stage, batch.ctx) if batch else (self.tasks[ref].stage, self.tasks[ref].ctx)
        album, fetched, kept = self._album(ctx), iter(blobs), []
        for _, out in finished:
            for rel, blob in out.items():
                if not isinstance(blob, bytes):
                    kept.append((rel, blob))
                    out[rel] = blob = next(fetched)
                album.fetched += len(blob)
        self._handed_back(ref)
        if batch:
            self.progress.done(stage.name, len(finished), len(self.actors) - self._lost)
            ctx.event("batch_done", stage=stage.name, actor=actor, pid=self.pids[actor], node=self.nodes[actor],
                      units=len(finished), seconds=round(seconds[0], 4))
        for name, fields in events:
            ctx.event(name, **fields)
        try:
            self.finished += [(ctx, stage, land(ctx, stage.name, done, out)) for done, out in finished]
        except Exception as e:  # its album's disk refused a file: that album's failure
            self.finished.append(Failed(ctx, e))
            return
        for rel, blob_ref in kept:  # the units that read these files get the actor's copy, on its node
            st = (ctx.album_dir / rel).stat()
            self._keep((str(ctx.album_dir / rel), st.st_size, st.st_mtime_ns), blob_ref, owner=actor)

    def _handed_back(self, ref) -> Context:
        """A batch or task is back (finished or failed): its actor is free, its album has one
        thing fewer in flight. Returns its album."""
        if ref in self.running:
            i, batch = self.running.pop(ref)
            self.free.append(i)
            ctx = batch.ctx
        else:
            ctx = self.tasks.pop(ref).ctx
        self._count(ctx, -1)
        return ctx

    def _resend(self, ref) -> bool:
        """A unit read a file an actor kept on its node, and the actor has died since: the
        driver's copies go out instead, and the unit runs again (LOST_INPUT_TRIES in all)."""
        if ref in self.running:
            batch = self.running[ref][1]
            if batch.runs >= BATCH_TRIES:
                return False
            self._forget_keys(batch.keys)
            self._handed_back(ref)
            self._count(batch.ctx, 1)
            heapq.heappush(self.batches, batch)
            return True
        task = self.tasks[ref]
        if task.sends >= LOST_INPUT_TRIES:
            return False
        self._forget_keys(task.keys)
        self._handed_back(ref)
        self._send(task.ctx, task.stage, task.unit, task.sends + 1)
        return True

    def _forget_keys(self, keys: list[tuple]) -> None:
        for key in keys:
            if key in self.ref_owner:
                del self.refs[key], self.ref_owner[key]

    def _worker_died(self, ref, err: Exception) -> None:
        from ray.exceptions import LocalRayletDiedError

        if isinstance(err, LocalRayletDiedError):  # not the unit's fault, and no retry helps
            raise StageError(f"lost the Ray raylet of this node ({_first_line(err)})",
                             "start Ray on this node again and run the same build; every recorded unit is kept")
        if ref not in self.running:  # a CPU task's worker died past its retries
            task = self.tasks[ref]
            self.finished.append(Failed(self._handed_back(ref), StageError(
                f"{task.stage.name} unit {task.unit.id}: its Ray worker died {TASK_RETRIES + 1} times "
                f"(last: {type(err).__name__}: {_first_line(err)})",
                "out of memory? see the Ray logs of that node, then run the same build again")))
            return
        i, batch = self.running.pop(ref)
        self._forget_actor(i)
        ids = [u.id for u in batch.units]
        self._events = batch.ctx
        batch.ctx.event("actor_died", stage=batch.stage.name, actor=i, pid=self.pids[i], units=ids, run=batch.runs)
        log.warning("Ray: render actor %d (pid %s) died during %s; running the batch again", i, self.pids[i],
                    ", ".join(ids))
        if batch.runs >= BATCH_TRIES:
            self._count(batch.ctx, -1)
            self.finished.append(Failed(batch.ctx, StageError(
                f"{batch.stage.name}: the batch {', '.join(ids[:4])} killed its actor {batch.runs} times",
                "see the Ray logs (out of memory? lower render.batch_size)")))
        else:
            heapq.heappush(self.batches, batch)  # its order is the lowest of its album's: it goes first again
        # Ray restarts the actor (max_restarts); its pid answers once it is back.
        self.probes[self.actors[i].where.options(max_task_retries=-1).remote()] = i

    def close(self) -> None:
        if self.head_lost:  # nothing to cancel or kill: asking a dead head would only hang
            self.running, self.tasks, self.probes, self.actors = {}, {}, {}, []
            return
        for ref in [*self.running, *self.tasks]:
            try:
                self.ray.cancel(ref)
            except Exception as e:  # already finished, or its worker is gone
                log.debug("cancel %s: %s", ref, e)
        for actor in self.actors:  # idle, they would hold their GPUs from every other job of the cluster
            self.ray.kill(actor, no_restart=True)
        self.running, self.tasks, self.probes, self.actors = {}, {}, {}, []
        self.refs.clear()
        self.ref_owner.clear()

