"""source: llm against a real OpenAI-compatible server on loopback, through the runner."""
from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import write_pipeline
from keyleak import KEY, key_sweep  # noqa: F401  (autouse: every test here is swept for the key)
from llm_server import LLMServer, Scripted, chat, error, tracklist_json

from albumgen.cli import main
from albumgen.engine import runner
from albumgen.engine.store.manifest import Manifest
from albumgen.errors import LLMError

MODEL = "test-model"
FOUR = [("Neon Rain", "synthwave with gated drums, 110 bpm"), ("Night Drive", "dark outrun with arpeggios, 100 bpm"),
        ("Glass City", "glassy arpeggios over a slow 80 bpm groove"), ("Last Exit", "moody piano and tape hiss, 70 bpm")]


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("ALBUMGEN_TEST_KEY", KEY)
    with LLMServer() as s:
        yield s


def pipeline(folder: Path, base_url: str, tracks: int = 2, **llm) -> Path:
    settings = {"base_url": base_url, "model": MODEL, "api_key_env": "ALBUMGEN_TEST_KEY", "backoff": 0.01,
                "max_attempts": 3, "timeout": 5, **llm}
    return write_pipeline(folder, {"album": {"title": None, "slug": "llm-album", "tracks": tracks},
                                   "prompts": {"source": "llm", "llm": settings}})


def build(path: Path):
    ctx = runner.open_pipeline(path, progress=False)
    runner.build(ctx, until="prompts")
    return ctx.manifest.record("prompts", "tracklist"), ctx


def tracks_of(rec) -> list[tuple[str, str, str]]:
    return [(t["id"], t["title"], t["prompt"]) for t in rec.data["tracks"]]


def every_byte(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_clean_json_reply_stored_once_resume_and_fewer_tracks_make_no_call(server, tmp_path):
    server.add(chat(tracklist_json(FOUR), prompt_tokens=61, completion_tokens=140))
    path = pipeline(tmp_path, server.base_url)
    rec, ctx = build(path)
    assert rec.data == {"album_title": "Neon Nights", "tracks": [
        {"id": "t01", "n": 1, "title": "Neon Rain", "prompt": "Synthwave with gated drums, 110 bpm"},
        {"id": "t02", "n": 2, "title": "Night Drive", "prompt": "Dark outrun with arpeggios, 100 bpm"}]}
    body = server.requests[0]["body"]
    assert (body["model"], body["seed"], body["temperature"]) == (MODEL, 1, 0.9)
    assert body["response_format"]["type"] == "json_schema"
    assert "Write 4 distinct tracks" in body["messages"][1]["content"]  # more candidates than tracks
    assert server.requests[0]["headers"]["authorization"] == f"Bearer {KEY}"

    stored = [p for p in rec.outputs if "/llm-" in p]
    assert len(stored) == 1
    reply = json.loads((ctx.album_dir / stored[0]).read_text("utf-8"))
    assert reply["usage"] == {"prompt_tokens": 61, "completion_tokens": 140, "total_tokens": 201}
    assert reply["replies"][0]["content"] == tracklist_json(FOUR) and len(reply["candidates"]) == 4
    assert KEY.encode() not in every_byte(ctx.album_dir)

    rec2, _ = build(path)  # resume: zero calls
    assert server.calls == 1 and rec2.key == rec.key

    path = pipeline(tmp_path, server.base_url, tracks=3, timeout=9)  # transport settings never re-ask
    rec3, _ = build(path)
    assert server.calls == 1
    assert tracks_of(rec3)[:2] == tracks_of(rec) and tracks_of(rec3)[2][1] == "Glass City"


def test_a_changed_key_attempt_count_or_backoff_makes_no_call(server, tmp_path, monkeypatch):
    """docs/configuration.md, prompts: a changed timeout, attempt count or key makes no LLM call (they are transport)."""
    server.add(chat(tracklist_json(FOUR)))
    rec, _ = build(pipeline(tmp_path, server.base_url))
    monkeypatch.setenv("ALBUMGEN_TEST_KEY", KEY + "-rotated")  # the same variable, a new key
    rec2, _ = build(pipeline(tmp_path, server.base_url, max_attempts=7, backoff=2))
    monkeypatch.setenv("ROTATED_KEY", KEY)  # the key moved to another variable
    rec3, _ = build(pipeline(tmp_path, server.base_url, api_key_env="ROTATED_KEY", max_attempts=1))
    assert server.calls == 1
    assert rec.key == rec2.key == rec3.key and rec3.data == rec.data


def test_a_crash_after_the_reply_never_pays_twice(server, tmp_path):
    server.add(chat(tracklist_json(FOUR)))
    path = pipeline(tmp_path, server.base_url)
    rec, ctx = build(path)
    # As if killed after the reply was stored but before the tracklist record committed.
    Manifest(ctx.album_dir).drop("prompts", "tracklist")
    (ctx.album_dir / "manifest/prompts/tracklist.json").unlink()
    again, _ = build(path)
    assert server.calls == 1 and again.data == rec.data


def test_hand_edited_stored_reply_is_read_back_without_a_call(server, tmp_path):
    server.add(chat(tracklist_json(FOUR)))
    path = pipeline(tmp_path, server.base_url)
    rec, ctx = build(path)
    stored = ctx.album_dir / next(p for p in rec.outputs if "/llm-" in p)
    data = json.loads(stored.read_text("utf-8"))
    data["candidates"][1]["prompt"] = "bright city pop with slap bass, 112 bpm"
    stored.write_text(json.dumps(data), "utf-8")
    again, _ = build(path)
    assert server.calls == 1
    assert tracks_of(again)[1] == ("t02", "Night Drive", "Bright city pop with slap bass, 112 bpm")


def test_more_tracks_than_stored_candidates_asks_again(server, tmp_path):
    server.add(chat(tracklist_json(FOUR)))
    build(pipeline(tmp_path, server.base_url, tracks=2))
    eight = [(f"Track {c}", f"{m} {g} with {i}, {b} bpm") for c, (m, g, i, b) in
             zip("ABCDEFGH", [("dreamy", "ambient", "felt piano", 70), ("driving", "techno", "acid bass", 130),
                              ("dark", "trip hop", "dusty breaks", 90), ("sunny", "bossa nova", "nylon guitar", 120),
                              ("epic", "orchestral", "french horns", 100), ("tense", "drum and bass", "reese bass", 174),
                              ("lazy", "dub", "melodica", 75), ("icy", "synthpop", "chorus guitar", 110)])]
    server.add(chat(tracklist_json(eight, album="Eight")))
    rec, _ = build(pipeline(tmp_path, server.base_url, tracks=5))
    assert server.calls == 2 and "Write 8 distinct tracks" in server.requests[1]["body"]["messages"][1]["content"]
    assert rec.data["album_title"] == "Eight" and [t["title"] for t in rec.data["tracks"]] == [
        "Track A", "Track B", "Track C", "Track D", "Track E"]


NUMBERED = "Here you go!\n\n1. **Neon Rain** - synthwave with gated drums, 110 bpm\n" \
           "2. **Night Drive** - dark outrun with arpeggios, 100 bpm\n\nEnjoy the album!"
CSV = 'title,prompt\nNeon Rain,"synthwave with gated drums, 110 bpm"\nNight Drive,"dark outrun with arpeggios, 100 bpm"'
PROSE = "I imagined a rainy city.\n\nThe tracks:\n- Neon Rain: synthwave with gated drums, 110 bpm\n" \
        "- Night Drive: dark outrun with arpeggios, 100 bpm\n\nEach one grows from the last."
FENCED = "```json\n" + tracklist_json(FOUR[:2]) + "\n```"
TRUNCATED = tracklist_json(FOUR[:2])[:-2] + ', {"title": "Glass Ci'


@pytest.mark.parametrize("reply", [FENCED, NUMBERED, CSV, PROSE, TRUNCATED], ids=["fenced", "numbered", "csv",
                                                                                   "prose", "truncated"])
def test_plain_text_replies_after_the_server_refuses_a_schema(monkeypatch, tmp_path, reply):
    monkeypatch.setenv("ALBUMGEN_TEST_KEY", KEY)
    with LLMServer([chat(reply)], reject_schema=True) as server:
        rec, _ = build(pipeline(tmp_path, server.base_url))
    assert [(t["title"], t["prompt"]) for t in rec.data["tracks"]] == [
        ("Neon Rain", "Synthwave with gated drums, 110 bpm"), ("Night Drive", "Dark outrun with arpeggios, 100 bpm")]
    assert server.calls == 2  # the refused structured request, then plain text
    assert "response_format" in server.requests[0]["body"] and "response_format" not in server.requests[1]["body"]


GARBAGE = "I'm sorry, but I can't help with that."


def test_garbage_then_a_good_reply_keeps_both(server, tmp_path):
    server.add(chat(GARBAGE), chat(tracklist_json(FOUR)))
    rec, ctx = build(pipeline(tmp_path, server.base_url))
    stored = json.loads((ctx.album_dir / next(p for p in rec.outputs if "/llm-" in p)).read_text("utf-8"))
    assert [r["content"] for r in stored["replies"]] == [GARBAGE, tracklist_json(FOUR)]
    assert server.calls == 2 and len(rec.data["tracks"]) == 2


def failure(server, tmp_path, **llm) -> LLMError:
    tmp_path.mkdir(exist_ok=True)
    with pytest.raises(LLMError) as e:
        build(pipeline(tmp_path, server.base_url, **llm))
    assert KEY not in str(e.value) and e.value.exit_code == 6
    return e.value


def test_a_reply_that_never_parses(server, tmp_path):
    server.add(chat(GARBAGE), chat("<html>502</html>"), chat(GARBAGE))
    e = failure(server, tmp_path)
    assert str(e) == (f"LLM server {server.base_url} (model {MODEL}) never gave a reply that parses (3 attempts; "
                      f"last began \"I'm sorry, but I can't help with that.\") (try another model or raise "
                      "prompts.llm.max_attempts; replies must list prompts)")


def test_content_parts_are_joined_and_a_number_or_object_is_asked_again(server, tmp_path):
    # The content-parts form some servers send: the text parts, joined, are the reply.
    halves = tracklist_json(FOUR)
    parts = [{"type": "text", "text": halves[:40]}, {"type": "text", "text": halves[40:]}]
    server.add(chat(parts))
    (tmp_path / "parts").mkdir()
    rec, _ = build(pipeline(tmp_path / "parts", server.base_url))
    assert [t["title"] for t in rec.data["tracks"]] == ["Neon Rain", "Night Drive"]
    # A number, then an object: not usable, asked again; never an internal error.
    server.add(chat(42), chat({"tracks": 1}), chat(GARBAGE))
    e = failure(server, tmp_path / "junk")
    assert "never gave a reply that parses (3 attempts" in str(e)


def test_429_waits_for_retry_after_then_succeeds(server, tmp_path):
    server.add(error(429, "rate limited", {"Retry-After": "0.3"}), chat(tracklist_json(FOUR)))
    rec, _ = build(pipeline(tmp_path, server.base_url, backoff=0))
    assert server.calls == 2 and len(rec.data["tracks"]) == 2
    assert server.requests[1]["t"] - server.requests[0]["t"] >= 0.3


def test_500s_are_retried_then_reported(server, tmp_path):
    server.add(error(502, "bad gateway"), error(503, "overloaded"), chat(tracklist_json(FOUR)))
    rec, _ = build(pipeline(tmp_path, server.base_url))
    assert server.calls == 3 and len(rec.data["tracks"]) == 2
    server.add(*[error(500, "boom")] * 3)
    e = failure(server, tmp_path / "again")
    assert str(e) == (f"LLM server {server.base_url} (model {MODEL}) answered HTTP 500 after 3 attempts "
                      "(try again later or raise prompts.llm.max_attempts)")
    assert server.calls == 6


def test_slower_than_timeout_is_retried_then_reported(server, tmp_path):
    server.add(chat(tracklist_json(FOUR), delay=1.0), chat(tracklist_json(FOUR)))
    rec, _ = build(pipeline(tmp_path, server.base_url, timeout=0.3))
    assert len(rec.data["tracks"]) == 2 and server.calls == 2
    server.add(*[chat(tracklist_json(FOUR), delay=1.0)] * 2)
    e = failure(server, tmp_path / "again", timeout=0.3, max_attempts=2)
    assert str(e) == (f"LLM server {server.base_url} (model {MODEL}) did not answer within 0.3 s after 2 attempts "
                      "(raise prompts.llm.timeout or use a faster model)")


def test_401_names_the_variable_never_the_key(server, tmp_path):
    server.add(error(401, f"Incorrect API key provided: {KEY}", code="invalid_api_key"))
    e = failure(server, tmp_path)
    assert str(e) == (f"LLM server {server.base_url} (model {MODEL}) refused the API key (HTTP 401) "
                      "(put a valid key in the environment variable ALBUMGEN_TEST_KEY)")
    assert server.calls == 1  # a bad key does not get better by asking again


def test_404_unknown_model(server, tmp_path):
    server.add(error(404, f"The model `{MODEL}` does not exist"))
    e = failure(server, tmp_path)
    assert str(e) == (f"LLM server {server.base_url} (model {MODEL}) answered 404 (The model `{MODEL}` does not "
                      "exist) (check prompts.llm.model is a model the server has and prompts.llm.base_url "
                      "(usually ending in /v1))")


def test_a_web_page_instead_of_an_api(server, tmp_path):
    server.add(*[Scripted(200, "<html><body>Welcome to nginx!</body></html>")] * 2)
    e = failure(server, tmp_path, max_attempts=2)
    assert str(e) == (f"LLM server {server.base_url} (model {MODEL}) sent a reply that is not an OpenAI chat "
                      "completion after 2 attempts (check prompts.llm.base_url points at an OpenAI-compatible API)")


def test_server_not_running(tmp_path, monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    with pytest.raises(LLMError) as e:
        build(pipeline(tmp_path, url, max_attempts=2))
    assert str(e.value) == (f"cannot reach LLM server {url} (model {MODEL}): connection failed after 2 attempts "
                            "(start the server or fix prompts.llm.base_url)")


def test_cli_prints_one_error_line_and_never_the_key(server, tmp_path):
    server.add(error(401, f"Incorrect API key provided: {KEY}"))
    result = CliRunner().invoke(main, ["-v", "prompts", str(pipeline(tmp_path, server.base_url))])
    assert result.exit_code == 6
    assert result.output.splitlines()[-1] == (
        f"Error: LLM server {server.base_url} (model {MODEL}) refused the API key (HTTP 401) "
        "(put a valid key in the environment variable ALBUMGEN_TEST_KEY)")
    assert KEY not in result.output


def test_rewrite_pass_keeps_intent_and_falls_back_per_prompt(server, tmp_path, monkeypatch):
    path = write_pipeline(tmp_path, {"album": {"tracks": 3}, "prompts": {
        "source": "inline", "rewrite": True,
        "inline": ["sad piano", "Neon Rain: fast synthwave", {"title": "Dust", "prompt": "desert guitar"}],
        "llm": {"base_url": server.base_url, "model": MODEL, "api_key_env": "ALBUMGEN_TEST_KEY", "backoff": 0.01}}})
    server.add(chat(json.dumps({"album_title": "Unused", "titles": ["Rainy Keys"]})))  # names the untitled one
    server.add(chat(json.dumps({"prompts": ["melancholic solo piano ballad with female vocals, 66 bpm",
                                            "design the album artwork in neon",
                                            "dusty desert blues guitar with slide, 90 bpm"]})))
    rec, _ = build(path)
    assert tracks_of(rec) == [("t01", "Rainy Keys", "Melancholic solo piano ballad with synth lead, 66 bpm"),
                              ("t02", "Neon Rain", "Fast synthwave"),
                              ("t03", "Dust", "Dusty desert blues guitar with slide, 90 bpm")]
    assert json.loads(server.requests[0]["body"]["messages"][1]["content"].split("\n\n", 2)[2]) == ["Sad piano"]
    assert json.loads(server.requests[1]["body"]["messages"][1]["content"].split("\n\n", 1)[1]) == [
        "Sad piano", "Fast synthwave", "Desert guitar"]
    build(path)
    assert server.calls == 2


def test_retry_after_reads_seconds_http_dates_and_milliseconds():
    import email.utils
    import time

    from albumgen.stages.prompts.llm import retry_after

    assert retry_after({"retry-after": "0.25"}) == 0.25
    assert retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert 8 <= retry_after({"retry-after": email.utils.formatdate(time.time() + 10, usegmt=True)}) <= 10
    assert retry_after({"retry-after": "soon"}) is None and retry_after({}) is None
