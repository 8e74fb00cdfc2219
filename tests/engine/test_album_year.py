"""album.year left out of the pipeline: the year of the first build, kept, whatever the clock
says later; so New Year re-masters nothing. Tested with a moved clock."""
from __future__ import annotations

import datetime
import json

import pytest
import yaml
from helpers import cli, write_pipeline
from mutagen.id3 import ID3

from albumgen import album_year
from albumgen.engine.store.manifest import Manifest


def set_clock(monkeypatch, year: int, month: int = 1, day: int = 1) -> None:
    monkeypatch.setattr(album_year, "today", lambda: datetime.date(year, month, day))


def unpinned(folder):
    path = write_pipeline(folder, {"album": {"tracks": 1}, "render": {"takes": 1}})
    data = yaml.safe_load(path.read_text())
    assert "year" not in data["album"]
    return path


def master_units(album, since: int) -> list[str]:
    return [e["unit"] for e in Manifest(album).events()[since:] if e["event"] == "unit_done" and e["stage"] == "master"]


def tag_year(album) -> str:
    return str(ID3(next(album.glob("*.mp3")))["TDRC"].text[0])


def test_the_first_build_keeps_its_year_across_new_year(tmp_path, monkeypatch):
    pipeline = unpinned(tmp_path)
    album = tmp_path / "albums" / "test-album"
    set_clock(monkeypatch, 2026, 12, 31)
    assert cli("build", str(pipeline)).exit_code == 0
    assert json.loads((album / "manifest" / "year.json").read_text()) == {"year": 2026}
    assert tag_year(album) == "2026" and json.loads((album / "album.json").read_text())["year"] == 2026

    set_clock(monkeypatch, 2027, 1, 1)  # New Year
    n = len(Manifest(album).events())
    r = cli("build", str(pipeline))
    assert r.exit_code == 0 and "Nothing to do" in r.output, r.output
    assert master_units(album, n) == [] and tag_year(album) == "2026"

    # A year set in the pipeline wins, and re-masters (the tags change).
    data = yaml.safe_load(pipeline.read_text())
    data["album"]["year"] = 2030
    pipeline.write_text(yaml.safe_dump(data))
    n = len(Manifest(album).events())
    assert cli("build", str(pipeline)).exit_code == 0
    assert "t01" in master_units(album, n) and tag_year(album) == "2030"


def test_a_new_album_takes_the_year_of_its_first_build(tmp_path, monkeypatch):
    set_clock(monkeypatch, 2031, 6, 1)
    pipeline = unpinned(tmp_path)
    assert cli("build", str(pipeline), "--until", "prompts").exit_code == 0
    assert json.loads((tmp_path / "albums/test-album/manifest/year.json").read_text()) == {"year": 2031}


def test_an_album_mastered_before_the_year_was_kept_keeps_its_album_json_year(tmp_path, monkeypatch):
    pipeline = unpinned(tmp_path)
    album = tmp_path / "albums" / "test-album"
    set_clock(monkeypatch, 2025, 3, 1)
    assert cli("build", str(pipeline)).exit_code == 0
    (album / "manifest" / "year.json").unlink()  # as an album from before year.json existed
    set_clock(monkeypatch, 2026, 3, 1)
    n = len(Manifest(album).events())
    assert cli("build", str(pipeline)).exit_code == 0
    assert master_units(album, n) == []
    assert json.loads((album / "manifest" / "year.json").read_text()) == {"year": 2025}


@pytest.mark.parametrize("body,line", [
    (b'{"year": "soon"}', "year must be a number from 1900 to 2999, got 'soon'"),
    (b"2026", "is malformed"),
])
def test_a_kept_year_broken_by_hand_says_so(tmp_path, monkeypatch, body, line):
    set_clock(monkeypatch, 2026)
    pipeline = unpinned(tmp_path)
    assert cli("build", str(pipeline), "--until", "prompts").exit_code == 0
    kept = tmp_path / "albums/test-album/manifest/year.json"
    kept.write_bytes(body)
    r = cli("build", str(pipeline), "--until", "prompts")
    sep = "" if line.startswith("is ") else ":"
    assert r.stderr.splitlines() == [f"Error: {kept}{sep} {line} (write {{\"year\": 2026}} in it, delete it to "
                                     "take this year, or set album.year)"]
    assert r.exit_code == 3
