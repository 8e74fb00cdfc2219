"""Outputs a config change makes stale go to manifest/trash/ with a note of the change,
not to nothing: changing the config back brings them back with no render, and `albumgen gc`
empties the trash."""
from __future__ import annotations

import hashlib
import json

import yaml
from click.testing import CliRunner
from helpers import write_pipeline

from albumgen.cli import main
from albumgen.engine.store.manifest import Manifest


def cli(*args: str):
    r = CliRunner().invoke(main, list(args))
    assert r.exit_code == 0, r.output
    return r


def set_takes(pipeline, n: int) -> None:
    data = yaml.safe_load(pipeline.read_text())
    data["render"]["takes"] = n
    pipeline.write_text(yaml.safe_dump(data))


def takes_on_disk(album) -> dict[str, str]:
    return {p.relative_to(album).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((album / "manifest" / "takes").rglob("take-*")) if p.is_file()}


def events(album, since: int, kind: str) -> list[tuple[str, str]]:
    return [(e["stage"], e["unit"]) for e in Manifest(album).events()[since:] if e["event"] == kind]


def test_lowered_takes_go_to_trash_and_come_back_without_a_render(tmp_path):
    pipeline = write_pipeline(tmp_path, {"album": {"tracks": 1}, "render": {"takes": 4}})
    album = tmp_path / "albums" / "test-album"
    trash = album / "manifest" / "trash"
    cli("build", str(pipeline))
    takes = takes_on_disk(album)
    assert len(takes) == 12  # .wav, .codes and the .json sidecar of 4 takes

    set_takes(pipeline, 2)  # a typo: hours of GPU work at full size
    cli("build", str(pipeline))
    assert sorted(u for s, u in events(album, 0, "unit_pruned") if s == "render") == ["t01/take-3", "t01/take-4"]
    notes = [json.loads(p.read_text()) for p in sorted(trash.glob("*/note.json"))]
    assert sorted(n["record"]["unit"] for n in notes if n["record"]["stage"] == "render") == ["t01/take-3",
                                                                                             "t01/take-4"]
    assert all(n["reason"] == "render.takes 4 -> 2" for n in notes)
    in_trash = {p.relative_to(trash / p.relative_to(trash).parts[0]).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in trash.rglob("take-*") if p.is_file()}
    assert in_trash == {rel: h for rel, h in takes.items() if "take-3" in rel or "take-4" in rel}
    assert takes_on_disk(album) == {rel: h for rel, h in takes.items() if rel not in in_trash}
    assert "trash: 6 files" in cli("status", str(pipeline)).output

    set_takes(pipeline, 4)  # undone: the takes come back as they were
    n = len(Manifest(album).events())
    cli("build", str(pipeline))
    assert [u for s, u in events(album, n, "unit_done") if s == "render"] == []
    assert sorted(u for s, u in events(album, n, "unit_restored") if s == "render") == ["t01/take-3", "t01/take-4"]
    assert takes_on_disk(album) == takes
    assert Manifest(album).is_done(Manifest(album).record("render", "t01/take-4").key, "render", "t01/take-4")
    assert not any(trash.rglob("take-*"))


def test_gc_empties_the_trash(tmp_path):
    pipeline = write_pipeline(tmp_path, {"album": {"tracks": 1}, "render": {"takes": 2}})
    album = tmp_path / "albums" / "test-album"
    cli("build", str(pipeline))
    set_takes(pipeline, 1)
    cli("build", str(pipeline))
    trashed = [p for p in (album / "manifest" / "trash").rglob("*") if p.is_file() and p.name != "note.json"]
    assert len(trashed) == 3
    size = sum(p.stat().st_size for p in trashed)
    r = cli("gc", str(pipeline))
    from albumgen.inputs import human_size

    assert r.output.strip() == f"Emptied the trash of {album}: 3 files, {human_size(size)} freed"
    assert not (album / "manifest" / "trash").exists()
    assert cli("gc", str(pipeline)).output.strip() == f"Nothing in the trash of {album}"
    assert "trash:" not in cli("status", str(pipeline)).output
    set_takes(pipeline, 2)  # gone for good: the take renders again
    n = len(Manifest(album).events())
    cli("build", str(pipeline))
    assert [u for s, u in events(album, n, "unit_done") if s == "render"] == ["t01/take-2"]
