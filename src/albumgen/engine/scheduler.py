"""The frontier: units run as soon as their inputs exist, across all stages (docs/architecture.md).

After a commit the scheduler plans again the stages that read what changed (a stage that
reads the committing stage's artifacts, directly or through others, or through feedback),
keeps every other stage's plan, and submits each pending unit whose readiness holds:

- no upstream stage (by needs/makes) is blocked outright (NotReady);
- a unit of a track (Unit.group) waits only for the upstream units of that track: a track
  is picked and mastered while the device renders the next tracks' takes;
- an album-wide unit (group None) waits for every upstream unit; a standalone unit (the
  cover) for nothing more than what let it be planned;
- `after` orders units within a stage (the playlist after every mastered track).

Pick's retry rounds need nothing special: a pick that wants more takes makes render plan
new units for that track, which hold the track's pick and master back until they are done.
The driver is the only writer of the manifest: executors hand back finished units and the
driver checks, records and logs them.

A step costs what changed, not the album's size: a finished take re-plans the stages
downstream of render (its own stage only drops the unit from its pending list), units known
done in this build are not stat-ed again, and readiness looks groups up in sets. Every
REPLAN_ALL seconds every stage is planned again anyway, so what changes outside the build
(a choice made on the review page while it runs) is seen within that time.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import registry
from ..errors import StageError
from ..sizes import counted
from ..stage import Context, NotReady, Stage, Unit
from . import interrupt
from .commit import commit, plan_stage, prune_stale, recover

log = logging.getLogger("albumgen")
REPLAN_ALL = 10.0  # seconds between full re-plans (outside changes); steps in between re-plan what changed


@dataclass
class StageReport:
    planned: int = 0
    ran: int = 0
    skipped: int = 0
    waiting_on: str | None = None
    waiting: int = 0  # tracks with no unit planned yet (dry run)


@dataclass
class BuildReport:
    album_dir: Path
    stages: dict[str, StageReport] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what a dry run says about the work (Stage.describe)

    @property
    def ran(self) -> int:
        return sum(s.ran for s in self.stages.values())


@dataclass
class StagePlan:
    units: list[Unit] = field(default_factory=list)
    pending: list[Unit] = field(default_factory=list)  # not done: queued or in flight
    waiting: set[str] = field(default_factory=set)  # groups that will get units later
    blocked: str | None = None  # NotReady: what the whole stage waits on
    # Readiness lookups, kept in step with `pending`: ids, and the groups with a pending unit.
    pending_ids: set[str] = field(default_factory=set)
    pending_groups: dict[str | None, int] = field(default_factory=dict)

    def set_pending(self, units: list[Unit]) -> None:
        self.pending = units
        self.pending_ids = {u.id for u in units}
        self.pending_groups = {}
        for u in units:
            self.pending_groups[u.group] = self.pending_groups.get(u.group, 0) + 1

    def finish(self, unit_id: str) -> None:
        """A unit of this plan was committed: it is no longer pending (no re-plan needed)."""
        if unit_id not in self.pending_ids:
            return
        unit = next(u for u in self.pending if u.id == unit_id)
        self.pending = [u for u in self.pending if u.id != unit_id]
        self.pending_ids.discard(unit_id)
        left = self.pending_groups[unit.group] - 1
        if left:
            self.pending_groups[unit.group] = left
        else:
            del self.pending_groups[unit.group]


class Frontier:
    def __init__(self, ctx: Context, stages: list[Stage], executor, report, force: set[str]):
        self.ctx, self.stages, self.executor, self.report = ctx, stages, executor, report
        self.force = force
        names = {s.name for s in stages}
        self.upstream = {s.name: [u for u in registry.upstream(s.name) if u != s.name and u in names] for s in stages}
        self.in_flight: set[tuple[str, str]] = set()
        self.ran: set[tuple[str, str]] = set()  # this build: --force means once per unit
        # Units already looked for on disk: recovery is for what was there before this build,
        # so each unit (id and key) is looked for once, not after every commit.
        self.checked: set[tuple[str, str, str]] = set()
        # The incremental part: each stage's plan is kept until a stage it reads commits.
        self.plans: dict[str, StagePlan] = {}
        self.stale: set[str] = set(names)
        self.readers = {s.name: downstream(s, stages) for s in stages}
        self.known_done: dict[tuple[str, str], str] = {}  # units seen done in this build -> key
        self.planned_all_at = 0.0

    def run(self) -> None:
        for s in self.stages:
            self.report.stages.setdefault(s.name, StageReport())
        describe = getattr(self.executor, "describe", lambda: None)
        with interrupt.in_flight(describe):
            while True:
                if stop := interrupt.requested():
                    # A stop was asked for: nothing new starts; what is in flight finishes
                    # and is recorded (the executor's wait returns it), then the build stops.
                    if not self.executor.busy():
                        raise interrupt.Interrupted(stop)
                elif self.submit_ready():
                    return
                for stage, done in self.executor.wait():
                    self.record(stage, done)

    def submit_ready(self) -> bool:
        """Submit every unit that is ready; True when nothing is left to run."""
        plans = self._plan()
        for stage in self.stages:
            ready = [u for u in plans[stage.name].pending
                     if (stage.name, u.id) not in self.in_flight and self._ready(stage, u, plans)]
            if ready:
                self.in_flight |= {(stage.name, u.id) for u in ready}
                self.ctx.manifest.event("units_submitted", stage=stage.name, units=[u.id for u in ready])
                self.executor.submit(stage, ready)
        if self.in_flight:
            return False
        stuck = [f"{n}/{u.id}" for n, p in plans.items() for u in p.pending]
        if stuck:  # a stage whose units wait on each other: a bug, not the user's
            raise StageError(f"units can never be ready: {', '.join(stuck[:5])}", "report this as a bug")
        return True

    def feeds_device(self) -> bool:
        """The album has device work ahead: a device stage not planned yet, waiting on an
        upstream stage, or with units queued or in flight. A catalogue opens another album
        when none of the open ones has, so the device does not wait through an album's CPU
        tail (pick, sequence, master)."""
        for stage in self.stages:
            if stage.resources == "device":
                plan = self.plans.get(stage.name)
                if plan is None or plan.blocked is not None or plan.pending or plan.waiting:
                    return True
        return False

    def record(self, stage: Stage, done) -> None:
        commit(stage, self.ctx, done)
        self.known_done[(stage.name, done.unit.id)] = done.unit.key
        if plan := self.plans.get(stage.name):
            plan.finish(done.unit.id)
        self.stale |= self.readers[stage.name]
        self.in_flight.discard((stage.name, done.unit.id))
        self.ran.add((stage.name, done.unit.id))
        self.ctx.manifest.event("unit_done", stage=stage.name, unit=done.unit.id, seconds=round(done.seconds, 3))
        self.report.stages[stage.name].ran += 1

    def _plan(self) -> dict[str, StagePlan]:
        now = time.monotonic()
        if now - self.planned_all_at >= REPLAN_ALL:
            self.stale = {s.name for s in self.stages}
            self.planned_all_at = now
        plans = self.plans
        manifest = self.ctx.manifest
        for stage in self.stages:
            if stage.name not in self.stale and stage.name in plans:
                continue
            self.stale.discard(stage.name)
            version = manifest.store.version
            self._plan_stage(stage, plans)
            if manifest.store.version != version:  # recovered, pruned: what reads it plans again
                self.stale |= self.readers[stage.name]
        return plans

    def _plan_stage(self, stage: Stage, plans: dict[str, StagePlan]) -> None:
        plan = plans[stage.name] = StagePlan()
        try:
            plan.units = plan_stage(stage, self.ctx)
        except NotReady as e:
            plan.blocked = e.needs
            return
        plan.waiting = set(getattr(plan.units, "waiting", ()))
        if not plan.waiting:  # a partial plan must not prune the units it cannot see yet
            prune_stale(stage, self.ctx, {u.id for u in plan.units})
        forced = stage.name in self.force
        plan.set_pending([u for u in plan.units if (stage.name, u.id) in self.in_flight
                          or (forced and (stage.name, u.id) not in self.ran)
                          or not self._done(stage.name, u)])
        fresh = [u for u in plan.pending if (stage.name, u.id) not in self.in_flight
                 and (stage.name, u.id, u.key) not in self.checked]
        if fresh and not forced:
            self.checked |= {(stage.name, u.id, u.key) for u in fresh}
            found = {u.id for u in fresh} - {u.id for u in recover(stage, self.ctx, fresh)}
            plan.set_pending([u for u in plan.pending if u.id not in found])
        rep = self.report.stages[stage.name]
        rep.planned = len(plan.units)
        rep.skipped = len(plan.units) - len(plan.pending) - sum(
            1 for u in plan.units if (stage.name, u.id) in self.ran)

    def _done(self, stage: str, unit: Unit) -> bool:
        """Done with this key: checked on disk once per build, then known (this driver is the
        only writer while it holds the lock)."""
        if self.known_done.get((stage, unit.id)) == unit.key:
            return True
        if self.ctx.manifest.is_done(unit.key, stage, unit.id):
            self.known_done[(stage, unit.id)] = unit.key
            return True
        return False

    def _ready(self, stage: Stage, unit: Unit, plans: dict[str, StagePlan]) -> bool:
        own = plans[stage.name]
        if any(a in own.pending_ids for a in unit.after):
            return False
        if unit.standalone:  # planned means ready: it reads nothing an upstream stage makes
            return True
        for name in self.upstream[stage.name]:
            up = plans[name]
            if up.blocked is not None:
                return False
            if unit.group is None:
                if up.pending or up.waiting:
                    return False
            elif unit.group in up.waiting or unit.group in up.pending_groups or None in up.pending_groups:
                return False
        return True


def downstream(stage: Stage, stages: list[Stage]) -> set[str]:
    """The stages whose plans can change when `stage` commits: those that need what it makes,
    directly or through other stages (a plan may read further up than it declares), and
    those that read it as feedback (render reads picks). A commit changes only its own
    stage's records, so feedback is one edge, not followed further."""
    makes = {a.kind for a in stage.makes}
    out = {s.name for s in stages if makes & {a.kind for a in s.feedback}}
    frontier = [stage]
    while frontier:
        kinds = {a.kind for a in frontier.pop().makes}
        for s in stages:
            if s.name not in out and kinds & {a.kind for a in s.needs}:
                out.add(s.name)
                frontier.append(s)
    return out


def run_frontier(ctx: Context, stages: list[Stage], executor, report, force: set[str]) -> float:
    t0 = time.monotonic()
    Frontier(ctx, stages, executor, report, force).run()
    for stage in stages:
        rep = report.stages[stage.name]
        if rep.ran == 0 and rep.planned:
            # Under --verbose only: on a resume every stage would say it, every time.
            log.debug("Stage '%s' didn't change, skipping (%s up to date)", stage.name, counted(rep.planned, "unit"))
    return time.monotonic() - t0
