"""Running stages by hand, one at a time, on what the manifest holds now (for tests that feed
a stage its inputs themselves), and the questions a test asks between such rounds."""
from __future__ import annotations

from albumgen.engine.executors.local import LocalExecutor
from albumgen.engine.scheduler import BuildReport, StageReport, run_frontier


def run_stage(stage, ctx, force: bool = False) -> StageReport:
    """One stage alone, every unit in this process, through the real frontier and commit."""
    rep = StageReport()
    report = BuildReport(ctx.album_dir, {stage.name: rep})
    run_frontier(ctx, [stage], LocalExecutor(ctx, workers=0), report, {stage.name} if force else set())
    return rep


def pick_wants_more_takes(ctx) -> bool:
    """A pick asked for more takes of a track than render has made: another round is due."""
    rendered: dict[str, int] = {}
    for take in ctx.artifacts.takes():
        rendered[take.track] = rendered.get(take.track, 0) + 1
    return any(p.wants_takes > rendered.get(p.track, 0) for p in ctx.artifacts.picks())


def sequence_unsettled(ctx) -> bool:
    """Sequence asked pick to avoid takes that pick has not yet avoided."""
    distinct = ctx.artifacts.distinct()
    if distinct is None:
        return False
    for tid, takes in distinct.avoid.items():
        pick = ctx.artifacts.pick(tid)
        if pick is not None and sorted((pick.model_extra or {}).get("avoid", [])) != sorted(takes):
            return True
    return False
