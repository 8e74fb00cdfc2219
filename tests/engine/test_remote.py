"""Units run away from the album (remote.py, what the ray executor does on every node), with
no Ray: each unit gets only the files its stage declares (Unit.reads, reads_pipeline) and a
snapshot of the records, and must make exactly the files a local build made."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from remote_fixtures import pipeline_in

from albumgen.cli import main
from albumgen.engine import runner
from albumgen.engine.executors.remote import Shipment, land, run_units
from albumgen.engine.store.recovery import BLOCK
from albumgen.errors import StageError


def body(data: bytes) -> dict:
    """A take's sidecar without what depends on the clock (its seconds, and so its hash)."""
    obj = json.loads(data)
    obj.pop(BLOCK)
    obj.pop("seconds")
    return obj


@pytest.mark.slow  # a worker pool's build
def test_every_unit_makes_the_same_files_from_what_it_declares(tmp_path):
    # workers 1: CPU units in a worker process, whose config (like a remote worker's) is
    # validated again from its JSON: pick.hard_checks' default comes back sorted there.
    pipeline = pipeline_in(tmp_path, {"executor": {"workers": 1}})
    r = CliRunner().invoke(main, ["build", str(pipeline)])
    assert r.exit_code == 0, r.output
    ctx = runner.open_pipeline(pipeline, progress=False)
    album, config = ctx.album_dir, ctx.config.model_dump(mode="json")
    ran = {}
    for stage in runner.select_stages(None):
        if stage.resources == "driver":
            continue
        for unit in runner.plan_stage(stage, ctx):
            # A node without the pipeline folder or the album: only what the unit declares.
            ship = Shipment(album_name=album.name, base_dir=str(tmp_path / "not-on-this-node"), album_top=None,
                            files={rel: (album / rel).read_bytes() for rel in unit.reads},
                            pipeline={rel: (tmp_path / rel).read_bytes() for rel in unit.reads_pipeline})
            finished, _ = run_units(stage.name, config, ship, ctx.manifest.state, [unit], logging.INFO)
            (done, blobs), = finished
            assert set(blobs) == set(ctx.manifest.record(stage.name, unit.id).outputs), unit.id
            for rel, data in blobs.items():
                if stage.name == "render" and rel.endswith(".json"):
                    assert body(data) == body((album / rel).read_bytes()), rel
                else:
                    assert data == (album / rel).read_bytes(), rel
            ran.setdefault(stage.name, []).append(unit.id)
    assert len(ran["render"]) == 6 and len(ran["pick"]) == 3
    assert {"analysis", "cover", "mix", "album"} <= set(ran["master"])
    # The intro and the cover reached the worker only as declared, from the pipeline folder.
    declared = {rel for s in runner.select_stages(None) if s.resources != "driver"
                for u in runner.plan_stage(s, ctx) for rel in u.reads_pipeline}
    assert declared == {"sounds/intro.wav", "art/cover.png"}


def test_an_output_outside_the_album_is_refused_before_anything_is_written(tmp_path):
    from albumgen.stage import Done, Unit

    ctx = runner.open_pipeline(pipeline_in(tmp_path), progress=False)
    done = Done(Unit(id="x", config={}, inputs={}), ["../escape.txt"])
    with pytest.raises(StageError, match=r"reported \.\./escape\.txt, outside the album folder"):
        land(ctx, "master", done, {"../escape.txt": b"x"})
    assert not (ctx.album_dir.parent / "escape.txt").exists()


def test_files_named_above_the_pipeline_folder_land_inside_the_scratch_folder(tmp_path):
    """A melody at ../../melodies/a.wav from the pipeline file is shipped like any other: the
    worker's pipeline folder sits deep enough in its scratch folder for the path to stay in."""
    from albumgen.engine.executors.remote import scratch_base

    rels = ["sounds/intro.wav", "../m.wav", "../../melodies/a.wav", "./../../../x/../y.wav", "/abs/on/node.wav"]
    base = scratch_base(tmp_path, rels)
    assert base.name == "pipeline" and base.is_relative_to(tmp_path)
    landed = {rel: Path(os.path.normpath(base / rel)) for rel in rels[:-1]}
    assert all(p.is_relative_to(tmp_path) for p in landed.values()), landed
    assert not any(p.is_relative_to(tmp_path / "album") for p in landed.values())
    assert scratch_base(tmp_path, ["a.wav", "/abs.wav"]) == tmp_path / "pipeline"
