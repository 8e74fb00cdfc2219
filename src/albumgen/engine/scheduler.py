"""The frontier: units run as soon as their inputs exist, across all stages (docs/architecture.md).

After every commit the scheduler plans every stage again (plans are cheap: they read the
manifest) and submits each pending unit whose readiness holds:

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
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import registry
from ..errors import StageError
from ..stage import Context, NotReady, Stage, Unit
from . import interrupt
from .commit import commit, plan_stage, prune_stale, recover

log = logging.getLogger("albumgen")


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
                elif self._submit_ready():
                    return
                for stage, done in self.executor.wait():
                    self._commit(stage, done)

    def _submit_ready(self) -> bool:
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

    def _commit(self, stage: Stage, done) -> None:
        commit(stage, self.ctx, done)
        self.in_flight.discard((stage.name, done.unit.id))
        self.ran.add((stage.name, done.unit.id))
        self.ctx.manifest.event("unit_done", stage=stage.name, unit=done.unit.id, seconds=round(done.seconds, 3))
        self.report.stages[stage.name].ran += 1

    def _plan(self) -> dict[str, StagePlan]:
        plans: dict[str, StagePlan] = {}
        manifest = self.ctx.manifest
        for stage in self.stages:
            plan = plans[stage.name] = StagePlan()
            try:
                plan.units = plan_stage(stage, self.ctx)
            except NotReady as e:
                plan.blocked = e.needs
                continue
            plan.waiting = set(getattr(plan.units, "waiting", ()))
            if not plan.waiting:  # a partial plan must not prune the units it cannot see yet
                prune_stale(stage, self.ctx, {u.id for u in plan.units})
            forced = stage.name in self.force
            plan.pending = [u for u in plan.units if (stage.name, u.id) in self.in_flight
                            or (forced and (stage.name, u.id) not in self.ran)
                            or not manifest.is_done(u.key, stage.name, u.id)]
            fresh = [u for u in plan.pending if (stage.name, u.id) not in self.in_flight
                     and (stage.name, u.id, u.key) not in self.checked]
            if fresh and not forced:
                self.checked |= {(stage.name, u.id, u.key) for u in fresh}
                found = {u.id for u in fresh} - {u.id for u in recover(stage, self.ctx, fresh)}
                plan.pending = [u for u in plan.pending if u.id not in found]
            rep = self.report.stages[stage.name]
            rep.planned = len(plan.units)
            rep.skipped = len(plan.units) - len(plan.pending) - sum(
                1 for u in plan.units if (stage.name, u.id) in self.ran)
        return plans

    def _ready(self, stage: Stage, unit: Unit, plans: dict[str, StagePlan]) -> bool:
        own = plans[stage.name]
        pending_ids = {u.id for u in own.pending}
        if any(a in pending_ids for a in unit.after):
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
            elif unit.group in up.waiting or any(u.group in (unit.group, None) for u in up.pending):
                return False
        return True


def run_frontier(ctx: Context, stages: list[Stage], executor, report, force: set[str]) -> float:
    t0 = time.monotonic()
    Frontier(ctx, stages, executor, report, force).run()
    for stage in stages:
        rep = report.stages[stage.name]
        if rep.ran == 0 and rep.planned:
            # Under --verbose only: on a resume every stage would say it, every time.
            log.debug("Stage '%s' didn't change, skipping (%d units up to date)", stage.name, rep.planned)
    return time.monotonic() - t0
