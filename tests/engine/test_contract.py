"""The stage contract as the engine reads it: typed artifacts, order from needs/makes, and
the runner checking what a unit reports before it records it."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import write_pipeline
from pydantic import BaseModel

from albumgen import registry
from albumgen.artifacts import Master, Pick, Take, Tracklist, parse_take_id, take_id
from albumgen.engine import runner
from albumgen.engine.executors.local import LocalExecutor
from albumgen.engine.scheduler import run_frontier
from albumgen.errors import StageError
from albumgen.stage import Context, Done, Stage, Unit


def test_take_ids_round_trip_and_reject_other_ids():
    assert take_id("t03", 2) == "t03/take-2"
    assert parse_take_id("t03/take-12") == ("t03", 12)
    for bad in ("t03", "t03/take-0", "t03/take-x", "t03/take-2.wav", "a/b/take-1", "tracklist"):
        with pytest.raises(ValueError):
            parse_take_id(bad)


def test_stage_order_comes_from_needs_and_makes():
    from albumgen.stages import STAGES

    assert [c.name for c in registry.order(list(reversed(STAGES)))] == ["prompts", "render", "decode", "pick",
                                                                        "sequence", "master"]
    assert registry.upstream("pick") == ["prompts", "render", "decode", "pick"]
    assert registry.producers() == {"tracklist": "prompts", "take": "render", "take_audio": "decode", "pick": "pick",
                                    "music": "sequence", "order": "sequence", "distinct": "sequence",
                                    "master": "master"}
    render = registry.get("render")
    assert render.feedback == (Pick,)  # declared, and not an ordering edge (no cycle)

    class Orphan(Stage):
        name = "orphan"
        Config = BaseModel
        needs = (Master, Tracklist)

    with pytest.raises(TypeError, match="orphan needs master"):
        registry.order([STAGES[0], Orphan])

    class Loop(Stage):
        name = "loop"
        Config = BaseModel
        needs = (Take,)
        makes = (Tracklist,)

    with pytest.raises(TypeError, match="both make tracklist"):
        registry.order([STAGES[0], Loop])
    with pytest.raises(TypeError, match="need each other"):
        registry.order([STAGES[1], Loop])


@pytest.fixture(scope="module")
def album(tmp_path_factory):
    folder = tmp_path_factory.mktemp("contract")
    ctx = runner.open_pipeline(write_pipeline(folder, {"album": {"tracks": 1}}), progress=False)
    runner.build(ctx)
    return ctx


def test_stages_read_typed_artifacts(album):
    ctx = runner.open_pipeline(album.base_dir / "pipeline.yaml", progress=False)
    arts = ctx.artifacts
    tl = arts.tracklist()
    assert isinstance(tl, Tracklist) and [t.id for t in tl.tracks] == ["t01"] and tl.tracks[0].prompt
    takes = arts.takes("t01")
    assert [t.id for t in takes] == ["t01/take-1", "t01/take-2"]
    rec = ctx.manifest.record("render", "t01/take-1")
    assert takes[0].wav == "manifest/takes/t01/take-1.wav" and takes[0].wav_sha256 == rec.outputs[takes[0].wav].sha256
    assert takes[0].seed == rec.data["seed"] and takes[0].model == rec.data["model"]
    pick = arts.pick("t01")
    assert isinstance(pick, Pick) and pick.take_id in {t.id for t in takes} and pick.wav == arts.take("t01", pick.choice).wav
    assert {m.id for m in arts.masters()} == {"cover", "t01", "album"}
    # The stages' work folders come from the engine.
    assert ctx.work_dir("render") == ctx.album_dir / "manifest" / "takes"
    assert ctx.work_dir("pick") == ctx.album_dir / "manifest" / "picks"


class Liar(Stage):
    """A stage that breaks the contract in the way its payload says."""

    name = "liar"
    Config = BaseModel

    def plan(self, ctx: Context) -> list[Unit]:
        return [Unit(id="u1", config={}, inputs={}, payload=self.report)]

    def run(self, ctx: Context, units: list[Unit]) -> Iterator[Done]:
        for u in units:
            yield Done(u, [Path(p) if Path(p).is_absolute() else ctx.album_dir / p for p in u.payload])


@pytest.mark.parametrize("report,needle", [
    (["manifest/never-written.json"], "reported {album}/manifest/never-written.json, which does not exist"),
    (["../outside.json"], "outside the album folder"),
    ([], "reported no outputs"),
])
def test_runner_checks_what_a_unit_reports(album, tmp_path, report, needle):
    (album.album_dir.parent / "outside.json").write_text("{}")
    stage = Liar()
    stage.report = report
    n = len(album.manifest.records("liar"))
    with pytest.raises(StageError) as e:
        run_frontier(album, [stage], LocalExecutor(album, workers=0), runner.BuildReport(album.album_dir), set())
    msg = str(e.value)
    assert msg.startswith("stage 'liar' unit u1 ") and needle.format(album=album.album_dir) in msg
    assert len(album.manifest.records("liar")) == n == 0  # nothing recorded


def test_more_workers_than_cores_are_as_many_as_the_cores(album, caplog):
    # `executor.workers: 100000` forked until memory ran out: a CPU unit uses a core.
    cores = os.cpu_count() or 1
    assert LocalExecutor(album, workers=100000).workers == cores
    assert f"executor.workers is 100000 but this machine has {cores} cores: using {cores}" in caplog.text
    assert LocalExecutor(album, workers=cores).workers == cores
