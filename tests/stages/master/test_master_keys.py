"""Master's unit keys hash the fields it uses, not whole dumps: a field a newer albumgen adds
to the tracklist's tracks (or a prompt source's extra) re-renders and re-masters nothing."""
from __future__ import annotations

from helpers import write_pipeline

from albumgen.engine import runner
from albumgen.engine.store import atomic
from albumgen.stages.master import track_tags


def units_done(ctx, since: int) -> list[tuple[str, str]]:
    return [(e["stage"], e["unit"]) for e in ctx.manifest.events()[since:] if e["event"] == "unit_done"]


def test_a_new_track_field_re_runs_no_unit(tmp_path):
    pipeline = write_pipeline(tmp_path, {"album": {"tracks": 1}, "render": {"takes": 1}})
    ctx = runner.open_pipeline(pipeline, progress=False)
    runner.build(ctx)
    masters = {r.unit: r.key for r in ctx.manifest.records("master")}
    # The tracklist as a newer prompts stage would write it: every track with one field more.
    rec = ctx.manifest.record("prompts", "tracklist")
    data = {**rec.data, "tracks": [{**t, "mood": "calm"} for t in rec.data["tracks"]]}
    path = ctx.album_dir / "manifest" / "prompts" / "tracklist.json"
    atomic.write_json(path, data)
    ctx.manifest.commit(rec.key, "prompts", "tracklist", [path], data)
    since = len(ctx.manifest.events())

    ctx = runner.open_pipeline(pipeline, progress=False)
    runner.build(ctx)
    assert units_done(ctx, since) == []
    assert {r.unit: r.key for r in ctx.manifest.records("master")} == masters
    assert ctx.artifacts.tracklist().tracks[0].model_extra == {"mood": "calm"}  # the field is there, unused


def test_track_tags_are_the_fields_a_tag_shows(tmp_path):
    from albumgen.artifacts import Track

    plain = Track(id="t01", n=1, title="Dawn", prompt="soft piano", melody="hum.wav", mood="calm")
    assert track_tags(plain) == {"id": "t01", "n": 1, "title": "Dawn", "prompt": "soft piano"}
    sung = Track(id="t02", n=2, title="Dusk", prompt="a ballad", lyrics="[verse]\nla")
    assert track_tags(sung)["lyrics"] == "[verse]\nla"
