"""A scheduler step costs what changed: a finished take re-plans the stages that read takes,
not render itself, and readiness still lets each track go on as soon as its takes are in."""
from __future__ import annotations

import pytest
from helpers import write_pipeline
from standin import PhaseOver, StandIn

from albumgen.engine import runner, scheduler
from albumgen.engine.scheduler import BuildReport, Frontier

TRACKS, TAKES = 4, 3


@pytest.fixture
def album(tmp_path):
    pipeline = write_pipeline(tmp_path, {"album": {"tracks": TRACKS}, "render": {"takes": TAKES}})
    runner.build(runner.open_pipeline(pipeline, progress=False), until="prompts")
    return pipeline


def run_render_phase(pipeline, monkeypatch, replan_all: float):
    monkeypatch.setattr(scheduler, "REPLAN_ALL", replan_all)
    ctx = runner.open_pipeline(pipeline, progress=False)
    stages = runner.select_stages(None)
    plans: dict[str, int] = {}
    for stage in stages:  # count each stage's plans: the instrument, not a stand-in
        def counted(ctx, _plan=stage.plan, _name=stage.name):
            plans[_name] = plans.get(_name, 0) + 1
            return _plan(ctx)
        stage.plan = counted
    executor = StandIn(ctx)
    with pytest.raises(PhaseOver):
        Frontier(ctx, stages, executor, BuildReport(ctx.album_dir), set()).run()
    return plans, executor


def test_a_take_replans_its_readers_not_render(album, monkeypatch):
    plans, executor = run_render_phase(album, monkeypatch, replan_all=3600)
    assert executor.committed == TRACKS * TAKES
    # render was planned once for the whole phase; the picker, which reads takes, after each.
    assert plans["render"] == 1
    assert plans["pick"] == TRACKS * TAKES + 1
    # ... and each track's pick went out as soon as that track's last take was in, not later.
    picks = {unit: at for stage, unit, at in executor.held if stage == "pick"}
    assert picks == {f"t{i:02d}": i * TAKES for i in range(1, TRACKS + 1)}


def test_every_stage_is_planned_again_after_replan_all(album, monkeypatch):
    plans, _ = run_render_phase(album, monkeypatch, replan_all=0)
    assert plans["render"] == TRACKS * TAKES + 1  # outside changes (a review choice) are seen
