"""The acestep backend on the ray executor (a real local Ray cluster, two render actors):
the same takes, latents and repaints as a local build."""
from __future__ import annotations

import hashlib

import pytest
from click.testing import CliRunner
from helpers import write_pipeline

from albumgen.cli import main
from albumgen.engine.store.manifest import Manifest

ray = pytest.importorskip("ray")
pytest.importorskip("diffusers")

# Two tracks of two takes; every take fails only its ending (a 5 s fade asked of the tiny
# model's noise), so pick asks for a repaint of each track's kept take. The batch size is
# set: left to itself, one local device takes all four takes in one batch and two actors
# two each, and a CPU's matrix kernels round a row differently beside other rows.
PIPELINE = {"album": {"tracks": 2},
            "render": {"backend": "acestep", "model": "tiny-acestep", "takes": 2, "duration": 6.0, "device": "cpu",
                       "batch_size": 2},
            "pick": {"hard_checks": ["abrupt_end"], "min_end_decay": 5.0, "retry_takes": 0, "max_rounds": 0,
                     "max_repaints": 1}}


def build(pipeline, *args: str) -> str:
    r = CliRunner().invoke(main, ["build", str(pipeline), *args])
    assert r.exit_code == 0, r.output + repr(r.exception)
    return r.output


def takes(album) -> dict[str, str]:
    folder = album / "manifest" / "takes"
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.suffix in (".wav", ".latents")}


def test_two_render_actors_make_the_local_songs_and_repaints(tmp_path):
    (tmp_path / "local").mkdir()
    build(write_pipeline(tmp_path / "local", PIPELINE), "--executor", "local")
    reference = tmp_path / "local" / "albums" / "test-album"
    ray.init(num_cpus=2, resources={"albumgen_render": 2}, include_dashboard=False, log_to_driver=False)
    try:
        (tmp_path / "ray").mkdir()
        build(write_pipeline(tmp_path / "ray", PIPELINE), "--executor", "ray")
    finally:
        ray.shutdown()
    album = tmp_path / "ray" / "albums" / "test-album"
    ours, theirs = takes(album), takes(reference)
    assert ours == theirs
    repaints = [r for r in Manifest(album).records("render") if "parent" in r.data]
    assert len(repaints) == 2  # one per track, rendered on an actor, equal to the local one
    assert {n for n in ours if "-1001." in n or "-2001." in n} == {n for n in theirs if "-1001." in n or "-2001." in n}
    assert len({n for n in ours if "001." in n}) == 4
    sent = [e for e in Manifest(album).events() if e["event"] == "batch_sent"]
    assert {e["actor"] for e in sent} == {0, 1}
