"""A catalogue on one frontier: the next album renders while the one before picks and
masters; one album's failure stops that album only; a re-run resumes what is unfinished."""
from __future__ import annotations

import pytest
from helpers import cli, write_pipeline
from llm_server import LLMServer, chat

from albumgen.engine.store.manifest import AlbumLock, Manifest

pytestmark = pytest.mark.slow  # every build here starts a worker pool

KEY = "sk-test-catalogue-key"
# Two tracks, two takes each, one take per batch: a few render units per album, and the
# album's pick and master tail runs on the workers while the next album renders.
ALBUM = {"album": {"tracks": 2}, "render": {"takes": 2, "batch_size": 1}, "executor": {"workers": 1}}


def album(folder, slug: str, **over):
    return write_pipeline(folder, {**ALBUM, "album": {**ALBUM["album"], "slug": slug}, **over}, name=f"{slug}.yaml")


def llm_album(folder, slug: str, base_url: str):
    llm = {"base_url": base_url, "model": "m", "api_key_env": "ALBUMGEN_CATALOGUE_KEY", "backoff": 0.01,
           "max_attempts": 1, "timeout": 5}
    return album(folder, slug, prompts={"source": "llm", "llm": llm})


def at(events: list[dict], event: str, **match) -> list[float]:
    return [e["ts"] for e in events if e["event"] == event and all(e.get(k) == v for k, v in match.items())]


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    """Three albums, the third with a brief the LLM answers with nothing usable."""
    folder = tmp_path_factory.mktemp("catalogue")
    mp = pytest.MonkeyPatch()
    mp.setenv("ALBUMGEN_CATALOGUE_KEY", KEY)
    try:
        with LLMServer([chat("Sorry, I can't help with that.")] * 4) as server:
            paths = [album(folder, "one"), llm_album(folder, "bad", server.base_url), album(folder, "two")]
            r = cli("build", *map(str, paths))
        yield folder, paths, r
    finally:
        mp.undo()


def test_one_albums_failure_stops_only_that_album(catalogue):
    folder, paths, r = catalogue
    assert r.exit_code == 6, r.output  # the failed album's own code (LLMError)
    albums = folder / "albums"
    for slug in ("one", "two"):
        assert len(list((albums / slug).glob("*.mp3"))) == 2, r.output
        assert f"Built {albums / slug}" in r.stdout
    assert not list((albums / "bad").glob("*.mp3"))
    errors = [line for line in r.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and errors[0].startswith(f"Error: bad ({paths[1]}): LLM server ")
    assert errors[0].endswith("(try another model or raise prompts.llm.max_attempts; replies must list prompts)")
    assert "2 of 3 albums built; failed: bad (exit 6)" in r.stderr
    bad = Manifest(albums / "bad").events()
    assert at(bad, "catalogue_album_failed") and at(bad, "build_done") == []


def test_the_next_album_renders_while_the_one_before_masters(catalogue):
    folder, _, _ = catalogue
    one = Manifest(folder / "albums" / "one").events()
    two = Manifest(folder / "albums" / "two").events()
    # The device started album two's takes (its first batch) before album one's last
    # master unit (the playlist) ended: one frontier, not one album after another.
    assert min(at(two, "render_batch_size")) < max(at(one, "unit_done", stage="master"))
    assert min(at(two, "build_start")) < max(at(one, "build_done"))


def test_each_albums_log_lines_name_it(catalogue):
    # The albums' lines interleave: each names its album, the lines said in the workers too.
    _, _, r = catalogue
    said = r.stderr.splitlines()
    for slug in ("one", "two"):
        assert any(line.startswith(f"{slug}: master: 01 - ") for line in said), r.stderr  # from a worker
        assert any(line.startswith(f"{slug}: prompts: tracklist ") for line in said), r.stderr  # from the driver
    assert not [line for line in said if line.startswith(("master: ", "pick: ", "prompts: "))], r.stderr


def test_a_rerun_resumes_only_the_unfinished_album(catalogue, monkeypatch):
    folder, paths, _ = catalogue
    monkeypatch.setenv("ALBUMGEN_CATALOGUE_KEY", KEY)
    tracks = '{"album_title": "Fixed", "tracks": [{"title": "First Light", "prompt": "warm ambient pads, 70 bpm"},' \
             ' {"title": "Low Tide", "prompt": "slow dub techno, 118 bpm"}]}'
    with LLMServer([chat(tracks)]) as server:
        fixed = llm_album(folder, "bad", server.base_url)
        assert fixed == paths[1]
        r = cli("build", *map(str, paths))
    assert r.exit_code == 0, r.output
    albums = folder / "albums"
    assert f"Nothing to do: every unit is up to date in {albums / 'one'}" in r.stdout
    assert f"Nothing to do: every unit is up to date in {albums / 'two'}" in r.stdout
    assert f"Built {albums / 'bad'}" in r.stdout and "3 albums built" in r.stdout
    assert len(list((albums / "bad").glob("*.mp3"))) == 2
    for slug in ("one", "two"):
        assert Manifest(albums / slug).last_events(1)[0]["units_ran"] == 0


def test_an_album_held_by_another_build_is_skipped_and_named(tmp_path):
    paths = [album(tmp_path, "free"), album(tmp_path, "held")]
    assert cli("build", "--until", "prompts", str(paths[1])).exit_code == 0  # its folder exists
    with AlbumLock(tmp_path / "albums" / "held" / "manifest"):
        r = cli("build", *map(str, paths))
    assert r.exit_code == 4, r.output  # LockError, the held album's own code
    assert len(list((tmp_path / "albums" / "free").glob("*.mp3"))) == 2
    assert [line for line in r.stderr.splitlines() if line.startswith("Error: held (")]
    assert "1 of 2 albums built; failed: held (exit 4)" in r.stderr


def test_a_catalogue_opens_its_albums_without_holding_their_records(catalogue):
    from albumgen.engine import runner

    _, paths, _ = catalogue
    ctxs = runner.open_pipelines([paths[0], paths[2]], progress=False)
    # Read at open (a damaged manifest is an error then), and let go of at once: a thousand
    # albums must not all sit in memory until their turn. (The store is private: no public view.)
    assert all(ctx.manifest._store is None for ctx in ctxs)
    assert all(len(ctx.manifest.state.records) > 10 for ctx in ctxs)  # read again when used


def test_the_first_albums_retry_takes_go_before_the_next_albums_batches(tmp_path):
    # Album one's picks reject the tiny model's noise and ask for a retry take per track
    # while album two's 24 takes (one a batch) are queued or rendering on the device: long
    # enough that its render outlasts album one's first picks (a worker's first pick warms
    # its analysis up for many seconds), or no batch of album two would be left to pass.
    # Its eight tracks of three takes each queue a pick every few batches meanwhile.
    first = album(tmp_path, "first", pick={"retry_takes": 1, "max_rounds": 1})
    second = album(tmp_path, "second", album={"tracks": 8, "slug": "second"},
                   render={"takes": 3, "batch_size": 1, "duration": 16.0})
    r = cli("build", str(first), str(second))
    assert r.exit_code == 0, r.output
    one = Manifest(tmp_path / "albums" / "first").events()
    two = Manifest(tmp_path / "albums" / "second").events()
    retries = [e for e in one if e["event"] == "units_submitted" and e["stage"] == "render"
               and any(u.endswith("take-3") for u in e["units"])]
    assert sorted(u for e in retries for u in e["units"]) == ["t01/take-3", "t02/take-3"], r.output
    rendered = at(two, "unit_done", stage="render")
    timeline = sorted((e["ts"], album, e["event"], e.get("stage"), e.get("unit", e.get("units")))
                      for album, events in (("one", one), ("two", two)) for e in events
                      if e["event"] in ("units_submitted", "unit_done", "build_done"))
    for asked in retries:  # both tracks' picks may have ended in one step: one submission
        for unit in asked["units"]:
            done = at(one, "unit_done", stage="render", unit=unit)[0]
            # Waited for the batch in flight (and one whose result the driver had not read
            # yet), not for album two's remaining batches.
            assert sum(asked["ts"] < t < done for t in rendered) <= 2, timeline
    assert max(at(one, "unit_done", stage="render")) < max(rendered), timeline  # album two had batches left
    # The picks of the retry takes pass album two's CPU units queued before them (its picks,
    # its cover): on the one worker they wait only for the unit it is running. (This tells
    # the orders apart only when album two had two or more queued then: on a loaded machine,
    # where the first picks are slow, it has.)
    tail = [e for e in one if e["event"] == "units_submitted" and e["stage"] == "pick"
            and e["ts"] > min(asked["ts"] for asked in retries)]
    assert tail, timeline
    cpu = [e["ts"] for e in two if e["event"] == "unit_done" and e["stage"] in ("pick", "sequence", "master")]
    for asked in tail:
        for unit in asked["units"]:
            done = at(one, "unit_done", stage="pick", unit=unit)[-1]
            assert sum(asked["ts"] < t < done for t in cpu) <= 1, timeline
    assert max(at(one, "build_done")) < max(at(two, "build_done")), timeline


def test_albums_whose_takes_are_rendered_open_beside_each_other(tmp_path):
    # Every album's takes are already rendered: none of them has work for the device, so
    # the catalogue does not keep the device waiting on two albums' CPU tails; it opens
    # more albums at once (up to MOST_OPEN), and their picks and masters share the workers.
    from albumgen.engine.catalogue import MOST_OPEN

    paths = [write_pipeline(tmp_path, {"album": {"tracks": 1, "slug": slug}, "render": {"takes": 1, "duration": 2.0},
                                       "executor": {"workers": 1}}, name=f"{slug}.yaml") for slug in "abcd"]
    assert cli("build", "--until", "render", *map(str, paths)).exit_code == 0
    r = cli("build", *map(str, paths))
    assert r.exit_code == 0, r.output
    events = {p.stem: Manifest(tmp_path / "albums" / p.stem).events() for p in paths}
    assert MOST_OPEN == 4
    first_done = max(at(events["a"], "build_done"))
    assert all(max(at(events[slug], "build_start")) < first_done for slug in "bcd")
