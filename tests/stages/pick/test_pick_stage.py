"""The pick stage in real builds (tiny model, real runner): retry rounds for tracks whose
takes all fail, the least bad kept and flagged, and a human choice that later builds
keep and mastering follows."""
from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from helpers import write_pipeline
from rounds import pick_wants_more_takes

from albumgen.cli import main
from albumgen.config import load_config
from albumgen.engine import runner
from albumgen.engine.status import album_status
from albumgen.engine.store.manifest import AlbumLock
from albumgen.errors import LockError
from albumgen.stages.pick import PickStage
from albumgen.stages.pick.combine import choose

pytestmark = pytest.mark.slow  # builds with retry rounds: more takes each

PICK = {"retry_takes": 1, "max_rounds": 2}


def build(pipeline):
    ctx = runner.open_pipeline(pipeline, progress=False)
    return ctx, runner.build(ctx)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One real album, built once: 2 tracks x 2 takes of 2 s of tiny-model audio."""
    folder = tmp_path_factory.mktemp("album")
    pipeline = write_pipeline(folder, {"render": {"duration": 2.0}, "pick": PICK})
    ctx, report = build(pipeline)
    return folder, ctx, report


@pytest.fixture
def album(built, tmp_path):
    """A private copy of the built album, so tests that change it stay independent."""
    folder, _, _ = built
    shutil.copytree(folder, tmp_path / "a")
    pipeline = tmp_path / "a" / "pipeline.yaml"
    config, base = load_config(pipeline)
    return pipeline, runner.make_context(config, base, pipeline.name, progress=False)


def test_all_failing_takes_get_retry_rounds_up_to_max_rounds(built):
    _, ctx, report = built
    for tid in ("t01", "t02"):
        takes = sorted(r.unit for r in ctx.manifest.records("render") if r.unit.startswith(tid))
        assert takes == [f"{tid}/take-{n}" for n in (1, 2, 3, 4)]  # 2 + 1 per round, 2 rounds
        rec = ctx.manifest.record("pick", tid)
        assert rec.data["all_rejected"] is True
        assert (rec.data["retry_rounds"], rec.data["extra_takes"], rec.data["manual"]) == (2, 2, False)
    # prompts once; render 2 takes per track, then 1 per round; pick each track 3 times
    assert report.stages["render"].ran == 8 and report.stages["pick"].ran == 6
    assert not pick_wants_more_takes(ctx)


def test_least_bad_take_is_kept_and_every_score_is_recorded(built):
    _, ctx, _ = built
    for tid in ("t01", "t02"):
        rec = ctx.manifest.record("pick", tid)
        report = json.loads(ctx.path(f"manifest/picks/{tid}.json").read_text())
        assert [t["take"] for t in report["takes"]] == [1, 2, 3, 4]
        assert all(t["rejects"] and t["features"] and "z" in t for t in report["takes"])
        assert rec.data["choice"] == report["takes"][choose(report["takes"])]["take"] == report["choice"]
        assert rec.data["wav"] == f"manifest/takes/{tid}/take-{rec.data['choice']}.wav"
        assert set(report["skipped"]) == {"clap", "aesthetics"}
        assert ctx.manifest.record("master", tid) is not None


def test_status_flags_all_rejected_tracks(built):
    _, ctx, _ = built
    rows = {r[0]: r for r in album_status(ctx)["rows"]}
    col = album_status(ctx)["columns"].index("pick")
    assert rows["t01"][col] == f"take {ctx.manifest.record('pick', 't01').data['choice']} (all rejected)"


def test_rebuild_runs_nothing(album):
    pipeline, _ = album
    _, report = build(pipeline)
    assert report.ran == 0


def test_manual_pick_survives_rebuilds_and_mastering_follows_it(album):
    pipeline, ctx = album
    t01_before = ctx.manifest.record("pick", "t01").finished_at
    res = CliRunner().invoke(main, ["pick", str(pipeline), "--track", "2", "--take", "3"])
    assert res.exit_code == 0, res.output
    assert "will use take 3 (manual)" in res.output
    assert json.loads(ctx.path("manifest/picks/overrides.json").read_text()) == {
        "schema_version": 1, "tracks": {"t02": 3}}

    ctx, report = build(pipeline)
    assert (report.stages["render"].ran, report.stages["pick"].ran) == (0, 1)
    rec = ctx.manifest.record("pick", "t02")
    assert (rec.data["choice"], rec.data["manual"], rec.data["wav"]) == (3, True, "manifest/takes/t02/take-3.wav")
    assert ctx.manifest.record("pick", "t01").finished_at == t01_before
    assert ctx.manifest.record("master", "t02").data["take"] == 3
    rows = {r[0]: r for r in album_status(ctx)["rows"]}
    assert "take 3 (manual)" in rows["t02"]

    _, report = build(pipeline)  # a later build keeps it and does nothing
    assert report.ran == 0
    text = pipeline.read_text().replace("max_rounds: 2", "max_rounds: 2\n  weights: {pulse_clarity: 0}")
    pipeline.write_text(text)  # a setting that re-runs every pick still keeps the human choice
    ctx, report = build(pipeline)
    assert report.stages["pick"].ran == 2
    assert ctx.manifest.record("pick", "t02").data["choice"] == 3
    assert ctx.manifest.record("master", "t02").data["take"] == 3


def test_auto_drops_the_manual_pick(album):
    pipeline, ctx = album
    auto = ctx.manifest.record("pick", "t02").data["choice"]
    other = 1 if auto != 1 else 2
    assert CliRunner().invoke(main, ["pick", str(pipeline), "--track", "t02", "--take", str(other)]).exit_code == 0
    ctx, _ = build(pipeline)
    assert ctx.manifest.record("master", "t02").data["take"] == other
    res = CliRunner().invoke(main, ["pick", str(pipeline), "--track", "2", "--auto"])
    assert res.exit_code == 0 and "will use the automatic pick" in res.output
    assert not ctx.path("manifest/picks/overrides.json").exists()
    ctx, _ = build(pipeline)
    rec = ctx.manifest.record("pick", "t02")
    assert (rec.data["choice"], rec.data["manual"]) == (auto, False)
    assert ctx.manifest.record("master", "t02").data["take"] == auto


def test_pick_rejects_a_take_that_was_not_rendered(album):
    pipeline, _ = album
    res = CliRunner().invoke(main, ["pick", str(pipeline), "--track", "2", "--take", "9"])
    assert res.exit_code == 3
    assert res.output.strip().splitlines()[-1] == \
        "Error: track 2 has no take 9 (rendered: 1, 2, 3, 4) (pick a rendered take)"
    res = CliRunner().invoke(main, ["pick", str(pipeline), "--track", "7", "--take", "1"])
    assert res.output.strip().splitlines()[-1] == \
        "Error: no track '7' in this album (tracks 1-2) (pass a track number or id)"


def test_pick_waits_for_a_running_build(album):
    pipeline, ctx = album
    with AlbumLock(ctx.manifest.dir):
        with pytest.raises(LockError):
            PickStage.set_choice(ctx, "2", 3)
    assert not ctx.path("manifest/picks/overrides.json").exists()


def test_pick_without_take_shows_the_scores(album):
    pipeline, ctx = album
    res = CliRunner().invoke(main, ["pick", str(pipeline), "--track", "1"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    choice = ctx.manifest.record("pick", "t01").data["choice"]
    assert lines[0] == f"t01: take {choice} - every take failed the hard checks"
    assert sum(line.startswith(" * take") for line in lines) == 1
    assert len([line for line in lines if "take " in line and "score" in line]) == 4


def test_fewer_render_takes_later_keeps_the_retry_takes_and_settles(album):
    pipeline, _ = album
    pipeline.write_text(pipeline.read_text().replace("takes: 2", "takes: 1"))
    ctx, report = build(pipeline)
    # 1 + the 2 extra takes asked for earlier; take 4 is pruned; no new round starts
    assert sorted(r.unit for r in ctx.manifest.records("render") if r.unit.startswith("t01")) == [
        "t01/take-1", "t01/take-2", "t01/take-3"]
    assert report.stages["render"].ran == 0 and report.stages["pick"].ran == 2
    rec = ctx.manifest.record("pick", "t01")
    assert (rec.data["extra_takes"], rec.data["retry_rounds"], rec.data["wants_takes"]) == (2, 2, 3)
    assert not pick_wants_more_takes(ctx)


def test_pick_works_on_take_ids_not_file_names(album):
    """Units carry take ids and the typed takes; a take's number is never read back out of
    its file's name, so audio that lives under any name is scored as the take it is."""
    _, ctx = album
    unit = next(u for u in PickStage().plan(ctx) if u.id == "t01")
    takes = sorted(ctx.artifacts.takes("t01"), key=lambda t: t.take)
    assert {k for k in unit.inputs if "/" in k} == {t.id for t in takes}
    assert [t["take"] for t in unit.payload["takes"]] == [t.take for t in takes]
    # The same audio under names that say nothing of the take, in the reverse order.
    for i, t in enumerate(unit.payload["takes"]):
        moved = f"manifest/elsewhere/{'xyzw'[i]}.wav"
        (ctx.album_dir / moved).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ctx.path(t["wav"]), ctx.path(moved))
        t["wav"] = moved
    unit.payload["takes"].reverse()
    done = next(iter(PickStage().run(ctx, [unit])))
    report = json.loads(done.outputs[0].read_text())
    assert [(t["take"], t["wav"]) for t in report["takes"]] == [
        (t["take"], t["wav"]) for t in unit.payload["takes"]]
    assert {t["take"] for t in report["takes"]} == {t.take for t in takes}
