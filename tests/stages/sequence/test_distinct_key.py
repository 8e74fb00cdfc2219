"""The duplicate check's key holds the pick fields it reads (choice, score, all_rejected):
a pick setting that changes them runs it again on resume; one that leaves them does not."""
from __future__ import annotations

import pytest
import yaml
from helpers import cli, write_pipeline

from albumgen.engine.store.manifest import Manifest


def build(pipeline, **pick) -> tuple[list[str], list[str]]:
    """Build with these pick settings; the pick and sequence units that ran."""
    data = yaml.safe_load(pipeline.read_text())
    data["pick"].update(pick)
    pipeline.write_text(yaml.safe_dump(data))
    album = pipeline.parent / "albums" / "test-album"
    n = len(Manifest(album).events()) if album.exists() else 0
    r = cli("build", str(pipeline))
    assert r.exit_code == 0, r.output
    ran = [e for e in Manifest(album).events()[n:] if e["event"] == "unit_done"]
    return [e["unit"] for e in ran if e["stage"] == "pick"], [e["unit"] for e in ran if e["stage"] == "sequence"]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    path = write_pipeline(tmp_path_factory.mktemp("distinct"), {"album": {"tracks": 2}})
    build(path)
    return path


def fields(pipeline) -> list[tuple]:
    m = Manifest(pipeline.parent / "albums" / "test-album")
    return [(r.data["choice"], r.data["score"], r.data["all_rejected"]) for r in sorted(m.records("pick"), key=lambda r: r.unit)]


def test_a_pick_setting_that_changes_what_distinct_reads_runs_it_again(pipeline):
    before = fields(pipeline)
    picks, sequence = build(pipeline, hard_checks=[])
    assert [f[2] for f in before] == [True, True]  # the tiny model's noise: every take rejected
    assert sorted(set(picks)) == ["t01", "t02"] and fields(pipeline) != before
    # The chosen takes are the same, so no analysis ran first: the check itself did, and on
    # picks no longer rejected it now compares the tracks (the noise of one model sounds
    # the same, so it sends one back to pick: the rounds that follow are its own).
    assert sequence[0] == "distinct"
    assert Manifest(pipeline.parent / "albums" / "test-album").record("sequence", "distinct").data["pairs"]


def test_a_pick_setting_that_leaves_them_does_not(pipeline):
    before = fields(pipeline)
    picks, sequence = build(pipeline, retry_takes=5)
    assert fields(pipeline) == before
    assert sorted(picks) == ["t01", "t02"] and sequence == []
