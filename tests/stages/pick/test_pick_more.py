"""More takes asked for by hand (`albumgen pick --more K`, and the review page through the
same library call): the next build renders exactly K more takes of that track, re-picks
it, and touches no other track."""
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
from albumgen.engine.store.manifest import AlbumLock
from albumgen.errors import InputError, LockError
from albumgen.stages.pick import PickStage

pytestmark = pytest.mark.slow  # builds that render more takes by hand, one after another


def build(pipeline):
    ctx = runner.open_pipeline(pipeline, progress=False)
    return ctx, runner.build(ctx)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("album")
    build(write_pipeline(folder))  # 2 tracks x 2 takes, retry rounds off
    return folder


@pytest.fixture
def album(built, tmp_path):
    shutil.copytree(built, tmp_path / "a")
    pipeline = tmp_path / "a" / "pipeline.yaml"
    config, base = load_config(pipeline)
    return pipeline, runner.make_context(config, base, pipeline.name, progress=False)


def takes_of(ctx, tid):
    return sorted(int(r.unit.split("take-")[1]) for r in ctx.manifest.records("render") if r.unit.startswith(tid))


def test_more_takes_renders_exactly_that_many_for_that_track(album):
    pipeline, ctx = album
    t02_pick = ctx.manifest.record("pick", "t02").finished_at
    res = CliRunner().invoke(main, ["pick", str(pipeline), "--track", "1", "--more", "2"])
    assert res.exit_code == 0, res.output
    assert "Track 1 (" in res.output and "will get 2 more takes (2 asked for by hand in all)" in res.output
    assert json.loads(ctx.path("manifest/picks/overrides.json").read_text()) == {
        "schema_version": 1, "tracks": {}, "more_takes": {"t01": 2}}

    ctx, report = build(pipeline)
    assert report.stages["render"].ran == 2
    assert takes_of(ctx, "t01") == [1, 2, 3, 4] and takes_of(ctx, "t02") == [1, 2]
    rec = ctx.manifest.record("pick", "t01")
    assert (rec.data["extra_takes"], rec.data["more_takes"], rec.data["wants_takes"]) == (2, 2, 4)
    report_file = json.loads(ctx.path("manifest/picks/t01.json").read_text())
    assert [t["take"] for t in report_file["takes"]] == [1, 2, 3, 4]
    assert ctx.manifest.record("pick", "t02").finished_at == t02_pick
    assert not pick_wants_more_takes(ctx)
    assert build(pipeline)[1].ran == 0  # asked once, rendered once

    PickStage.request_takes(ctx, "t01", 1)  # a second request adds to the first
    ctx, report = build(pipeline)
    assert report.stages["render"].ran == 1 and takes_of(ctx, "t01") == [1, 2, 3, 4, 5]


def test_a_choice_keeps_the_request_and_auto_keeps_it_too(album):
    pipeline, ctx = album
    PickStage.request_takes(ctx, "2", 3)
    PickStage.set_choice(ctx, "2", 1)
    PickStage.set_choice(ctx, "1", 2)
    PickStage.set_choice(ctx, "1", None)
    assert json.loads(ctx.path("manifest/picks/overrides.json").read_text()) == {
        "schema_version": 1, "tracks": {"t02": 1}, "more_takes": {"t02": 3}}
    ctx, report = build(pipeline)
    assert report.stages["render"].ran == 3 and takes_of(ctx, "t02") == [1, 2, 3, 4, 5]
    assert ctx.manifest.record("master", "t02").data["take"] == 1


@pytest.mark.parametrize("count", [0, -1, 33])
def test_bad_counts_are_refused_and_nothing_is_written(album, count):
    pipeline, ctx = album
    res = CliRunner().invoke(main, ["pick", str(pipeline), "--track", "1", "--more", str(count)])
    assert res.exit_code == 3
    assert res.output.strip().splitlines()[-1] == (
        f"Error: more takes must be a whole number from 1 to 32, got {count} (ask for fewer, several times if need be)")
    assert not ctx.path("manifest/picks/overrides.json").exists()


def test_more_waits_for_a_running_build_and_contradictions_are_refused(album):
    pipeline, ctx = album
    with AlbumLock(ctx.manifest.dir):
        with pytest.raises(LockError):
            PickStage.request_takes(ctx, "1", 2)
    assert not ctx.path("manifest/picks/overrides.json").exists()
    with pytest.raises(InputError):
        PickStage.request_takes(ctx, "9", 2)
    res = CliRunner().invoke(main, ["pick", str(pipeline), "--track", "1", "--more", "2", "--auto"])
    assert res.exit_code == 2 and "Error: --take, --auto and --more contradict each other" in res.output


def test_malformed_more_takes_is_a_clear_error_and_older_files_read_the_same(tmp_path):
    from albumgen.stages.pick import overrides

    path = tmp_path / overrides.REL
    path.parent.mkdir(parents=True)
    path.write_text('{"schema_version": 1, "tracks": {"t01": 2}}')  # written before more_takes existed
    assert (overrides.load(tmp_path), overrides.load_more(tmp_path)) == ({"t01": 2}, {})
    path.write_text('{"schema_version": 1, "tracks": {}, "more_takes": {"t01": -1}}')
    with pytest.raises(InputError, match="more_takes must map track ids to counts >= 0"):
        overrides.load_more(tmp_path)
