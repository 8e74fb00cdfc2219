"""Counts in messages agree with their noun: "1 take", "2 takes", never "1 takes"."""
from __future__ import annotations

from helpers import cli, write_pipeline
from llm_server import LLMServer, error

from albumgen.sizes import counted, human_size


def test_counted_says_one_and_many():
    assert [counted(n, "take") for n in (0, 1, 2)] == ["0 takes", "1 take", "2 takes"]
    assert counted(1, "reply", "replies") == "1 reply" and counted(3, "reply", "replies") == "3 replies"
    assert counted(1, "more take") == "1 more take"
    assert human_size(1) == "1 byte" and human_size(2) == "2 bytes"


def test_a_dry_run_of_one_track_and_one_take_says_so_in_the_singular(tmp_path):
    pipeline = write_pipeline(tmp_path, {"album": {"tracks": 1}, "render": {"takes": 1},
                                         "pick": {"max_rounds": 1, "retry_takes": 1}})
    r = cli("build", "--dry-run", str(pipeline))
    assert r.exit_code == 0, r.output
    assert "  prompts  would run 1 of 1 unit (0 up to date)" in r.stdout
    assert "render: 1 track x 1 take = 1 take of 1 s (0.0 min of audio)" in r.stdout
    assert "render: worst case 2 takes (0.0 min of audio): a track whose takes all fail the picker gets 1 more, " \
           "up to 1 time (pick.retry_takes, pick.max_rounds)" in r.stdout


def test_one_failed_llm_attempt_is_one_attempt(tmp_path, monkeypatch):
    monkeypatch.setenv("ALBUMGEN_COUNTS_KEY", "sk-test-counts")
    with LLMServer([error(500, "boom")]) as server:
        llm = {"base_url": server.base_url, "model": "m", "api_key_env": "ALBUMGEN_COUNTS_KEY", "backoff": 0.01,
               "max_attempts": 1, "timeout": 5}
        pipeline = write_pipeline(tmp_path, {"album": {"title": None}, "prompts": {"source": "llm", "llm": llm}})
        r = cli("build", str(pipeline), "--until", "prompts")
    assert r.exit_code == 6, r.output
    assert r.stderr.splitlines()[-1].startswith(
        f"Error: LLM server {server.base_url} (model m) answered HTTP 500 after 1 attempt (")
