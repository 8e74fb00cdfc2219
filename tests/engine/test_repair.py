"""A damaged manifest renders no take again: records come back from the sidecars on disk."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from helpers import cli, write_pipeline

from albumgen.engine.store.manifest import Manifest

PIPELINE = {"album": {"tracks": 2}, "render": {"takes": 2}}


def files(album: Path) -> dict[str, str]:
    skip = ("events.jsonl", "lock", "manifest.json", "journal.jsonl", "manifest.json.damaged")
    return {p.relative_to(album).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(album.rglob("*")) if p.is_file() and p.name not in skip}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ref")
    pipeline = write_pipeline(folder, PIPELINE)
    r = cli("build", str(pipeline))
    assert r.exit_code == 0, r.output
    return folder


@pytest.fixture
def album_copy(reference, tmp_path):
    """A private copy of the built album (the pipeline's output_dir is relative)."""
    folder = tmp_path / "copy"
    shutil.copytree(reference, folder)
    return folder / "pipeline.yaml", folder / "albums" / "test-album"


def ran_since(album: Path, n: int, event: str = "unit_done") -> list[tuple[str, str]]:
    return [(e["stage"], e["unit"]) for e in Manifest(album).events()[n:] if e["event"] == event]


def test_deleted_record_store_then_repair_renders_nothing(album_copy, reference):
    pipeline, album = album_copy
    before = files(album)
    (album / "manifest" / "manifest.json").unlink()
    (album / "manifest" / "journal.jsonl").unlink()
    n = len(Manifest(album).events())
    r = cli("repair", str(pipeline))
    assert r.exit_code == 0, r.output
    assert "records recovered: prompts 1, render 4, pick 2" in r.output
    assert ran_since(album, n) == []  # repair runs nothing
    m = Manifest(album)
    assert {rec.unit for rec in m.records("render")} == {"t01/take-1", "t01/take-2", "t02/take-1", "t02/take-2"}
    # The recovered records say what the lost ones said (the readers' fields are intact).
    ref = Manifest(reference / "albums" / "test-album")
    for stage in ("prompts", "render", "pick"):
        for rec in ref.records(stage):
            got = m.record(stage, rec.unit)
            assert got.key == rec.key and got.data == rec.data and got.outputs.keys() == rec.outputs.keys()
    n = len(Manifest(album).events())
    r = cli("build", str(pipeline))
    assert r.exit_code == 0, r.output
    # sequence and master have no sidecars: they are cheap
    assert {s for s, _ in ran_since(album, n)} == {"sequence", "master"}
    assert files(album) == before


def test_truncated_manifest_heals_during_build_with_a_warning(album_copy):
    pipeline, album = album_copy
    before = files(album)
    snapshot = album / "manifest" / "manifest.json"
    snapshot.write_bytes(snapshot.read_bytes()[:300])
    n = len(Manifest(album).events())
    r = cli("build", str(pipeline))
    assert r.exit_code == 0, r.output
    assert "manifest.json is not valid JSON" in r.stderr and "rebuilding its records" in r.stderr
    assert not any(s in ("render", "prompts", "pick") for s, _ in ran_since(album, n))
    assert len(ran_since(album, n, "unit_recovered")) == 7
    assert files(album) == before
    assert (album / "manifest" / "manifest.json.damaged").is_file()
    assert Manifest(album).damage == []


def test_edited_sidecar_or_audio_is_not_trusted(album_copy):
    pipeline, album = album_copy
    takes = album / "manifest" / "takes" / "t01"
    (album / "manifest" / "manifest.json").unlink()
    (album / "manifest" / "journal.jsonl").unlink()
    # A take's metadata edited by hand, another take's audio damaged: both render again.
    meta = json.loads((takes / "take-1.json").read_text())
    meta["seed"] += 1
    (takes / "take-1.json").write_text(json.dumps(meta))
    wav = bytearray((takes / "take-2.wav").read_bytes())
    wav[-10] ^= 0xFF
    (takes / "take-2.wav").write_bytes(bytes(wav))
    n = len(Manifest(album).events())
    r = cli("build", str(pipeline))
    assert r.exit_code == 0, r.output
    assert sorted(u for s, u in ran_since(album, n) if s == "render") == ["t01/take-1", "t01/take-2"]
    assert sorted(u for s, u in ran_since(album, n, "unit_recovered") if s == "render") == \
        ["t02/take-1", "t02/take-2"]
    assert json.loads((takes / "take-1.json").read_text())["seed"] == meta["seed"] - 1


def test_a_changed_config_does_not_adopt_old_takes(album_copy):
    # The sidecar's key is the unit key: takes of another duration are not this build's.
    pipeline, album = album_copy
    text = pipeline.read_text().replace("duration: 1.0", "duration: 0.5")
    pipeline.write_text(text)
    (album / "manifest" / "manifest.json").unlink()
    (album / "manifest" / "journal.jsonl").unlink()
    n = len(Manifest(album).events())
    r = cli("build", str(pipeline))
    assert r.exit_code == 0, r.output
    assert len([u for s, u in ran_since(album, n) if s == "render"]) == 4
    assert [s for s, _ in ran_since(album, n, "unit_recovered")] == ["prompts"]


def test_repair_brings_back_retry_round_and_more_takes_with_their_picks(tmp_path):
    # A retry round (every tiny take fails the hard checks) and one take asked for by hand:
    # render plans those takes from the pick record, so recovery must reach a fixed point.
    pipeline = write_pipeline(tmp_path, {"album": {"tracks": 1}, "render": {"takes": 1},
                                         "pick": {"retry_takes": 1, "max_rounds": 1}})
    album = tmp_path / "albums" / "test-album"
    assert cli("build", str(pipeline)).exit_code == 0
    assert cli("pick", str(pipeline), "--track", "1", "--more", "1").exit_code == 0
    assert cli("build", str(pipeline)).exit_code == 0
    m = Manifest(album)
    takes = {r.unit: r.key for r in m.records("render")}
    pick = m.record("pick", "t01")
    assert sorted(takes) == ["t01/take-1", "t01/take-2", "t01/take-3"]
    assert pick.data["retry_rounds"] == 1 and pick.data["more_takes"] == 1 and pick.data["extra_takes"] == 2
    before = files(album)

    (album / "manifest" / "manifest.json").unlink()
    (album / "manifest" / "journal.jsonl").unlink()
    r = cli("repair", str(pipeline))
    assert r.exit_code == 0, r.output
    assert "render 3" in r.output and "pick 1" in r.output
    m = Manifest(album)
    assert {r.unit: r.key for r in m.records("render")} == takes
    assert m.record("pick", "t01").key == pick.key and m.record("pick", "t01").data == pick.data
    n = len(m.events())
    r = cli("build", str(pipeline))
    assert r.exit_code == 0, r.output
    assert {s for s, _ in ran_since(album, n)} <= {"sequence", "master"}  # nothing rendered or picked again
    assert files(album) == before


def test_build_alone_recovers_to_the_same_fixed_point(tmp_path):
    pipeline = write_pipeline(tmp_path, {"album": {"tracks": 1}, "render": {"takes": 1},
                                         "pick": {"retry_takes": 1, "max_rounds": 1}})
    album = tmp_path / "albums" / "test-album"
    assert cli("build", str(pipeline)).exit_code == 0
    pick = Manifest(album).record("pick", "t01")
    (album / "manifest" / "manifest.json").unlink()
    (album / "manifest" / "journal.jsonl").unlink()
    n = len(Manifest(album).events())
    assert cli("build", str(pipeline)).exit_code == 0
    assert {s for s, _ in ran_since(album, n)} <= {"sequence", "master"}
    assert Manifest(album).record("pick", "t01").data == pick.data
