"""An album folder converges on its records: a stage output no record claims (a kill
between a record and the trashing of the files it replaced, or before a record the config
then stopped asking for) goes to the trash when the album opens; what a record claims, a
person's files and what recovery still needs stay where they are."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml
from helpers import cli, write_pipeline

from albumgen.engine.store.manifest import Manifest

PIPELINE = {"album": {"tracks": 1}, "render": {"takes": 2}}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """One built album (1 track, 2 takes), copied by each test that changes it."""
    folder = tmp_path_factory.mktemp("built")
    pipeline = write_pipeline(folder, PIPELINE)
    run("build", str(pipeline))
    return folder


def copy(built: Path, tmp_path: Path) -> tuple[Path, Path]:
    shutil.copytree(built, tmp_path, dirs_exist_ok=True)  # with mtimes: the records still match
    return tmp_path / "pipeline.yaml", tmp_path / "albums" / "test-album"


def run(*args: str):
    r = cli(*args)
    assert r.exit_code == 0, r.output
    return r


def set_takes(pipeline: Path, n: int) -> None:
    data = yaml.safe_load(pipeline.read_text())
    data["render"]["takes"] = n
    pipeline.write_text(yaml.safe_dump(data))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def claimed(album: Path) -> dict[str, str]:
    return {rel: sha(album / rel) for r in Manifest(album).state.records.values() for rel in r.outputs}


def events(album: Path, since: int, kind: str, stage: str = "render") -> list[str]:
    return [e["unit"] for e in Manifest(album).events()[since:] if e["event"] == kind and e.get("stage") == stage]


def trash_notes(album: Path) -> dict[str, dict]:
    trash = album / "manifest" / "trash"
    return {p.parent.name: json.loads(p.read_text()) for p in trash.glob("*/note.json")}


def test_repair_trashes_an_mp3_a_killed_commit_left_and_nothing_else(built, tmp_path):
    pipeline, album = copy(built, tmp_path)
    mp3 = Manifest(album).record("master", "t01").data["file"]
    # What a kill leaves in a commit between recording a renamed track and trashing its old
    # file, or before the record of a title the pipeline no longer has: an MP3 nobody claims.
    (album / "01 - Old Title.mp3").write_bytes((album / mp3).read_bytes())
    # A person's files, the LLM's cache, the review's choices and pictures: never outputs.
    mine = {"notes.txt": b"liner notes", "my mix.mp3": b"ID3", "manifest/review/wave-0.png": b"png",
            "manifest/picks/overrides.json": b'{"schema_version": 1, "tracks": {}}',
            "manifest/prompts/llm-0123456789abcdef.json": b"{}"}
    for rel, body in mine.items():
        (album / rel).parent.mkdir(parents=True, exist_ok=True)
        (album / rel).write_bytes(body)
    kept = claimed(album)

    run("repair", str(pipeline))
    assert claimed(album) == kept  # nothing a record claims moved or changed
    assert all((album / rel).read_bytes() == body for rel, body in mine.items())
    ((key, note),) = trash_notes(album).items()
    assert note["record"] is None and note["files"] == ["01 - Old Title.mp3"]
    assert not (album / "01 - Old Title.mp3").exists()
    assert sha(album / "manifest/trash" / key / "01 - Old Title.mp3") == sha(album / mp3)


def test_takes_a_killed_prune_left_are_trashed_and_come_back_unrendered(built, tmp_path):
    pipeline, album = copy(built, tmp_path)
    take1 = {rel: sha(album / rel) for rel in Manifest(album).record("render", "t01/take-1").outputs}
    take2 = {rel: sha(album / rel) for rel in Manifest(album).record("render", "t01/take-2").outputs}
    set_takes(pipeline, 1)
    # What a kill leaves in prune_stale between dropping take 2's record and trashing its
    # files: the record gone, the files in place (their sidecar still proves them).
    m = Manifest(album)
    with m.lock():
        m.drop("render", "t01/take-2")
    n = len(m.events())
    run("build", str(pipeline))
    opened = Manifest(album).events()[n:]
    opened = opened[:[e["event"] for e in opened].index("build_start")]
    assert [(e["event"], e["unit"]) for e in opened if e.get("stage") == "render"] == [("unit_trashed", "t01/take-2")]
    assert not any((album / rel).exists() for rel in take2)
    assert {rel: sha(album / rel) for rel in take1} == take1
    ((_, note),) = trash_notes(album).items()
    assert (note["record"]["stage"], note["record"]["unit"]) == ("render", "t01/take-2")
    assert sorted(note["files"]) == sorted(take2)

    set_takes(pipeline, 2)  # asked for again: back from the trash, not rendered
    n = len(Manifest(album).events())
    run("build", str(pipeline))
    assert events(album, n, "unit_done") == [] and events(album, n, "unit_restored") == ["t01/take-2"]
    assert {rel: sha(album / rel) for rel in take2} == take2


def test_a_unit_the_plan_still_asks_for_is_left_for_recovery(built, tmp_path):
    pipeline, album = copy(built, tmp_path)
    take2 = {rel: sha(album / rel) for rel in Manifest(album).record("render", "t01/take-2").outputs}
    m = Manifest(album)
    with m.lock():  # a kill between a take's files and its record
        m.drop("render", "t01/take-2")
    n = len(m.events())
    run("build", str(pipeline))
    assert events(album, n, "unit_recovered") == ["t01/take-2"] and events(album, n, "unit_done") == []
    assert {rel: sha(album / rel) for rel in take2} == take2
    assert not (album / "manifest" / "trash").exists()
