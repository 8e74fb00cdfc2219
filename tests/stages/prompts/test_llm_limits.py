"""An LLM server misbehaving at scale, on a real loopback server: replies of megabytes,
thousands of prompts, replies cut off mid-JSON, 429 forever, a reply that trickles in.
Reads and time are bounded, each failure is one `Error:` line with exit 6, the key
appears nowhere, and nothing is stored that the next build would trust."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import write_pipeline
from llm_server import LLMServer, Scripted, chat, error, tracklist_json

from albumgen.cli import main
from albumgen.engine.store.manifest import Manifest

KEY = "sk-test-SECRET-7777-never-stored"
MODEL = "test-model"
TWO = [("Neon Rain", "synthwave with gated drums, 110 bpm"), ("Night Drive", "dark outrun with arpeggios, 100 bpm")]


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("ALBUMGEN_LIMITS_KEY", KEY)
    with LLMServer() as s:
        yield s


def pipeline(folder: Path, base_url: str, **llm) -> Path:
    settings = {"base_url": base_url, "model": MODEL, "api_key_env": "ALBUMGEN_LIMITS_KEY", "backoff": 0.01,
                "max_attempts": 3, "timeout": 5, **llm}
    return write_pipeline(folder, {"album": {"title": None, "slug": "llm-album", "tracks": 2},
                                   "prompts": {"source": "llm", "llm": settings}})


def prompts(path: Path):
    return CliRunner().invoke(main, ["build", str(path), "--until", "prompts"])


def where(server: LLMServer) -> str:
    return f"LLM server {server.base_url} (model {MODEL})"


def assert_nothing_trusted(folder: Path, result) -> None:
    """No stored reply, no tracklist record, and the key in no file and no output."""
    album = folder / "albums" / "llm-album"
    assert not list(album.rglob("llm-*.json")) and not list(album.rglob("tracklist.json"))
    assert Manifest(album).record("prompts", "tracklist") is None
    assert KEY not in result.output
    for p in folder.rglob("*"):
        if p.is_file():
            assert KEY.encode() not in p.read_bytes(), p


def test_a_reply_of_megabytes_is_not_read(server, tmp_path):
    server.add(chat("x" * (3 * 1024 * 1024)))
    r = prompts(pipeline(tmp_path, server.base_url))
    assert r.stderr.splitlines()[-1] == (f"Error: {where(server)} sent a reply of more than 2.0 MB "
                                         "(ask for fewer prompts (prompts.llm.candidates) or check the server)")
    assert r.exit_code == 6 and server.calls == 1  # not asked again: a retry would cost as much
    assert_nothing_trusted(tmp_path, r)


def test_a_reply_of_megabytes_without_a_length_and_an_error_body_of_megabytes(server, tmp_path):
    big = chat("y" * (3 * 1024 * 1024))
    server.add(Scripted(big.status, big.body, no_length=True))
    r = prompts(pipeline(tmp_path, server.base_url))
    assert r.exit_code == 6 and r.stderr.splitlines()[-1].endswith("sent a reply of more than 2.0 MB "
                                                                   "(ask for fewer prompts (prompts.llm.candidates) "
                                                                   "or check the server)")
    server.add(error(500, "z" * (3 * 1024 * 1024)))  # openai reads error bodies too: bounded as well
    r = prompts(pipeline(tmp_path, server.base_url))
    assert r.exit_code == 6 and "sent a reply of more than 2.0 MB" in r.stderr.splitlines()[-1]
    assert_nothing_trusted(tmp_path, r)


def test_thousands_of_prompts_make_an_album_of_the_first(server, tmp_path):
    words = ["amber", "basalt", "cobalt", "delta", "ember", "fjord", "garnet", "harbor", "indigo", "jasper"]
    many = [(f"Piece {i}", f"{words[i % 10]} {words[i // 10 % 10]} {words[i // 100 % 10]} synth study number {i}, "
             f"{60 + i % 100} bpm") for i in range(5000)]
    server.add(chat(tracklist_json(many)))
    r = prompts(pipeline(tmp_path, server.base_url, candidates=300))
    assert r.exit_code == 0, r.output
    album = tmp_path / "albums" / "llm-album"
    tracks = Manifest(album).record("prompts", "tracklist").data["tracks"]
    assert [(t["title"], t["prompt"]) for t in tracks] == [
        ("Piece 0", "Amber amber amber synth study number 0, 60 bpm"),
        ("Piece 1", "Basalt amber amber synth study number 1, 61 bpm")]
    stored = json.loads(next(album.rglob("llm-*.json")).read_text("utf-8"))
    assert len(stored["candidates"]) == 5000 and server.calls == 1


def test_a_connection_cut_mid_json_stores_nothing_and_the_next_build_asks_again(server, tmp_path):
    whole = json.dumps(chat(tracklist_json(TWO)).body).encode()
    for _ in range(3):
        server.add(Scripted(200, whole.decode(), cut_at=len(whole) // 2))
    path = pipeline(tmp_path, server.base_url)
    r = prompts(path)
    assert r.stderr.splitlines()[-1] == (f"Error: {where(server)} closed the connection in the middle of a reply "
                                         "after 3 attempts (check the server's logs; try again later)")
    assert r.exit_code == 6 and server.calls == 3
    assert_nothing_trusted(tmp_path, r)
    server.add(chat(tracklist_json(TWO)))
    r = prompts(path)
    assert r.exit_code == 0 and server.calls == 4


def test_a_completion_cut_mid_json_is_not_a_reply(server, tmp_path):
    whole = json.dumps(chat(tracklist_json(TWO)).body)
    for _ in range(3):
        server.add(Scripted(200, whole[: len(whole) // 2]))  # a whole HTTP body, half a completion
    r = prompts(pipeline(tmp_path, server.base_url))
    assert r.stderr.splitlines()[-1] == (
        f"Error: {where(server)} sent a reply that is not an OpenAI chat completion after 3 attempts "
        "(check prompts.llm.base_url points at an OpenAI-compatible API)")
    assert r.exit_code == 6
    assert_nothing_trusted(tmp_path, r)


def test_429_forever_ends_at_the_deadline(server, tmp_path):
    for _ in range(20):
        server.add(error(429, "slow down", headers={"Retry-After": "5"}))
    t0 = time.monotonic()
    r = prompts(pipeline(tmp_path, server.base_url, max_attempts=20, deadline=3))
    took = time.monotonic() - t0
    # The next try would start past the deadline: stop now rather than sleep into it.
    assert r.stderr.splitlines()[-1] == (
        f"Error: {where(server)} gave no usable reply within prompts.llm.deadline (3 s, 1 attempt; "
        f"last: {where(server)} answered HTTP 429) (try again later, or raise prompts.llm.deadline)")
    assert r.exit_code == 6 and server.calls == 1 and took < 30
    assert_nothing_trusted(tmp_path, r)


def test_a_reply_that_trickles_in_ends_at_the_deadline(server, tmp_path):
    # 64 bytes every 0.3 s: every read is within the timeout, the whole reply never is.
    server.add(Scripted(200, chat(tracklist_json(TWO)).body, trickle=0.3))
    t0 = time.monotonic()
    r = prompts(pipeline(tmp_path, server.base_url, deadline=2))
    took = time.monotonic() - t0
    assert re.fullmatch(
        re.escape(f"Error: {where(server)} gave no usable reply within prompts.llm.deadline (2 s, 1 attempt; ")
        + r"last: (the reply was still arriving|no answer)\) \(try again later, or raise prompts\.llm\.deadline\)",
        r.stderr.splitlines()[-1]), r.stderr
    assert r.exit_code == 6 and took < 30
    assert_nothing_trusted(tmp_path, r)


def test_cleaning_stops_reading_once_the_album_is_full():
    from itertools import chain

    from albumgen.stages.prompts.clean import clean_candidates
    from albumgen.stages.prompts.parse import Candidate

    def never():
        raise AssertionError("read past the prompts the album needs")
        yield  # pragma: no cover

    first = [Candidate("warm pads and tape hiss, 70 bpm"), Candidate("warm pads and tape hiss, 70 bpm"),
             Candidate("driving techno with acid bass, 128 bpm"), Candidate("glassy arpeggios over strings, 90 bpm")]
    cleaned = clean_candidates(chain(first, never()), limit=3)
    assert [c.prompt for c in cleaned.kept] == ["Warm pads and tape hiss, 70 bpm",
                                                "Driving techno with acid bass, 128 bpm",
                                                "Glassy arpeggios over strings, 90 bpm"]
    assert dict(cleaned.dropped) == {"duplicates": 1}


@pytest.mark.parametrize("edit,what", [
    (lambda d: d.update(candidates="four prompts"), 'candidates must be a list of {"title": ..., "prompt": "..."}'),
    (lambda d: d["candidates"][0].update(prompt=7), 'candidates must be a list of {"title": ..., "prompt": "..."}'),
    (lambda d: d.update(album_title=["x"]), "album_title must be a string or null"),
], ids=["candidates a string", "a prompt a number", "album_title a list"])
def test_a_stored_reply_broken_by_hand_is_an_error_not_a_paid_call(server, tmp_path, edit, what):
    server.add(chat(tracklist_json(TWO)))
    path = pipeline(tmp_path, server.base_url)
    assert prompts(path).exit_code == 0
    stored = next((tmp_path / "albums" / "llm-album").rglob("llm-*.json"))
    data = json.loads(stored.read_text("utf-8"))
    edit(data)
    stored.write_text(json.dumps(data), "utf-8")
    before = stored.read_bytes()
    r = prompts(path)
    assert r.stderr.splitlines()[-1] == f"Error: {stored}: {what} (fix it, or delete it to ask the LLM again)"
    assert r.exit_code == 3 and server.calls == 1 and stored.read_bytes() == before


def test_a_stored_reply_that_is_not_json_is_an_error(server, tmp_path):
    server.add(chat(tracklist_json(TWO)))
    path = pipeline(tmp_path, server.base_url)
    assert prompts(path).exit_code == 0
    stored = next((tmp_path / "albums" / "llm-album").rglob("llm-*.json"))
    stored.write_bytes(stored.read_bytes()[:40])
    r = prompts(path)
    assert r.stderr.splitlines()[-1].startswith(f"Error: {stored} is not valid JSON (")
    assert r.exit_code == 3 and server.calls == 1
