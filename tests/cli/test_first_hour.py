"""What a new user meets in the first hour: the model checked before anything is written, a
dry run that runs every check a build runs and prints the work, retries said out loud, a
console that says each thing once, and LLM edges that do not cost the album."""
from __future__ import annotations

import json

import pytest
from helpers import cli, run_cli, write_pipeline
from llm_server import LLMServer, chat

from albumgen.config import parse_config

TRY_TINY = "or try `render.model: tiny` to test the pipeline"


def nothing_written(folder) -> bool:
    return not (folder / "albums").exists()


# -- the model, checked first ------------------------------------------------------------------
@pytest.mark.parametrize("dry", [False, True])
def test_a_model_not_on_this_machine_stops_before_anything_is_written(tmp_path, dry):
    pipeline = write_pipeline(tmp_path, {"render": {"model": "facebook/musicgen-small"}})
    r = cli("build", str(pipeline), *(["--dry-run"] if dry else []))
    assert r.exit_code == 5, r.output
    assert r.stderr == ("Error: render.model: facebook/musicgen-small is not in the local Hugging Face cache and "
                        "HF_HUB_OFFLINE=1 (download it once online (`hf download facebook/musicgen-small`) or unset "
                        f"HF_HUB_OFFLINE; {TRY_TINY})\n")
    assert nothing_written(tmp_path)  # no album folder, no cover, no prompts


@pytest.mark.slow  # two albumgen processes: the hub's address is read at import
def test_a_model_neither_cached_nor_reachable_stops_before_anything_is_written(tmp_path):
    """Online mode on a machine that cannot reach the hub (no network, a firewall): the dry
    run and the build stop at the check, not after a minute of download retries."""
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as s:  # a loopback port nothing listens on: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env |= {"HF_ENDPOINT": f"http://127.0.0.1:{port}", "HF_HOME": str(tmp_path / "hf")}
    pipeline = write_pipeline(tmp_path, {"render": {"model": "facebook/musicgen-small"}})
    for dry in (["--dry-run"], []):
        r = subprocess.run([sys.executable, "-m", "albumgen", "build", str(pipeline), *dry], env=env,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 5, r.stderr
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(
            "Error: render.model: facebook/musicgen-small is not in the local Hugging Face cache and the hub "
            "cannot be reached: "), r.stderr
        assert "`hf download facebook/musicgen-small --local-dir musicgen-small` where there is internet" in lines[0]
        assert lines[0].endswith(f"{TRY_TINY})")
        assert nothing_written(tmp_path)


@pytest.mark.parametrize("model", ["facebook/musicgen-tiny", "musicgen-small", "facebook/musicgen-smal"])
def test_an_id_that_is_no_checkpoint_gets_the_nearest_real_one(tmp_path, model):
    pipeline = write_pipeline(tmp_path, {"render": {"model": model}})
    r = cli("build", str(pipeline), "--dry-run")
    assert r.exit_code == 5
    assert r.stderr == (f"Error: render.model: {model} is not a known checkpoint and not in the local cache "
                        f"(did you mean facebook/musicgen-small? {TRY_TINY})\n")
    assert "hf download" not in r.stderr  # never a download of a repository that does not exist
    assert nothing_written(tmp_path)


def test_a_local_folder_is_checked_for_its_files(tmp_path):
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "config.json").write_text("{}")
    r = cli("build", str(write_pipeline(tmp_path, {"render": {"model": "./ckpt"}})), "--dry-run")
    assert r.exit_code == 5
    assert "render.model: folder ./ckpt has no weights (*.safetensors)" in r.stderr
    r = cli("build", str(write_pipeline(tmp_path, {"render": {"model": "./nowhere"}})))
    assert r.exit_code == 5 and "render.model: folder ./nowhere does not exist" in r.stderr
    assert nothing_written(tmp_path)


def test_a_cached_hub_snapshot_passes(tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    snap = cache / "models--facebook--musicgen-small" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}")
    (cache / "models--facebook--musicgen-small" / "refs").mkdir()
    (cache / "models--facebook--musicgen-small" / "refs" / "main").write_text("abc123")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(cache))
    from albumgen.models.backend import backend
    from albumgen.models.checkpoints import check_model

    assert check_model("facebook/musicgen-small", tmp_path, backend("transformers")) == "cache"
    assert check_model("tiny", tmp_path, backend("transformers"), presets=("tiny",)) == "preset"


# -- the dry run: every check, and the work -----------------------------------------------------
def test_dry_run_refuses_too_few_prompts_for_the_album(tmp_path):
    inline = ["calm piano, 70 bpm", "fast drums and bass, 170 bpm", "warm synth pads, 90 bpm"]
    pipeline = write_pipeline(tmp_path, {"album": {"tracks": 8}, "prompts": {"source": "inline", "inline": inline}})
    r = cli("build", str(pipeline), "--dry-run")
    assert r.exit_code == 8, r.output
    assert r.stderr.startswith("Error: only 3 of 3 prompts from prompts.inline survived cleaning but album.tracks "
                               "is 8")
    prompts = tmp_path / "prompts.csv"
    prompts.write_text("prompt\n" + "\n".join(f'"{p}"' for p in inline) + "\n")
    r = cli("build", str(write_pipeline(tmp_path, {"album": {"tracks": 8},
                                                   "prompts": {"source": "file", "file": "prompts.csv"}})))
    assert r.exit_code == 3 and "album.tracks is 8" in r.stderr  # a prompts file is an input: exit 3
    assert nothing_written(tmp_path)


def test_dry_run_checks_the_cover_and_melody_files(tmp_path):
    (tmp_path / "cover.jpg").write_text("not a picture")
    r = cli("build", str(write_pipeline(tmp_path, {"master": {"cover": "cover.jpg"}})), "--dry-run")
    assert r.exit_code == 3 and "cover.jpg" in r.stderr
    r = cli("build", str(write_pipeline(tmp_path, {"render": {"model": "tiny-melody", "melody": "tune.wav"}})),
            "--dry-run")
    assert r.exit_code == 3 and "render.melody: tune.wav not found" in r.stderr
    assert nothing_written(tmp_path)


def test_dry_run_prints_the_work_the_retry_worst_case_and_a_labelled_estimate(tmp_path):
    pipeline = write_pipeline(tmp_path, {"album": {"tracks": 3}, "render": {"takes": 2, "duration": 4.0},
                                         "pick": {"max_rounds": 2, "retry_takes": 4}})
    r = cli("build", str(pipeline), "--dry-run")
    assert r.exit_code == 0, r.output
    assert "render: 3 tracks x 2 takes = 6 takes of 4 s (0.4 min of audio)" in r.stdout
    assert ("render: worst case 30 takes (2.0 min of audio): a track whose takes all fail the picker gets 4 more, "
            "up to 2 times (pick.retry_takes, pick.max_rounds)") in r.stdout
    assert "render: estimate under a minute on cpu for tiny" in r.stdout
    assert "a rough figure from a table, not a measurement of this machine" in r.stdout
    assert nothing_written(tmp_path)


def test_the_tiny_preset_retries_nothing_unless_asked():
    assert parse_config({"render": {"model": "tiny"}}).pick.max_rounds == 0  # noise fails every take
    assert parse_config({"render": {"model": "tiny"}, "pick": {"max_rounds": 2}}).pick.max_rounds == 2
    assert parse_config({}).pick.max_rounds == 2  # a real model keeps its retries
    # Round-tripped as workers get it, the choice holds.
    cfg = parse_config({"render": {"model": "tiny"}})
    assert parse_config(cfg.model_dump(mode="json")).pick.max_rounds == 0


def test_a_retry_round_is_said_once_with_why(tmp_path):
    pipeline = write_pipeline(tmp_path, {"album": {"tracks": 1}, "render": {"takes": 1},
                                         "pick": {"max_rounds": 1, "retry_takes": 1}})
    r = cli("build", str(pipeline))
    assert r.exit_code == 0, r.output
    lines = [ln for ln in r.stderr.splitlines() if "more take" in ln]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("pick: rendering 1 more take of t01 (every take failed: ")
    assert lines[0].endswith("; round 1 of 1)")


# -- the console ------------------------------------------------------------------------------
@pytest.mark.slow  # three builds in child processes
def test_notices_once_per_album_stage_skips_under_verbose_and_one_prefix_style(tmp_path):
    pipeline = write_pipeline(tmp_path)
    # Child processes: this one keeps a loaded model between tests, and says nothing loading it.
    first = run_cli("build", str(pipeline))
    assert first.returncode == 0, first.stderr
    assert first.stderr.count("random weights, the takes are noise") == 1
    # One prefix style: every line a stage says starts with its name.
    stages = ("prompts: ", "render: ", "decode: ", "pick: ", "sequence: ", "master: ")
    assert all(ln.startswith(stages) for ln in first.stderr.splitlines()), first.stderr
    (tmp_path / "pipeline.yaml").write_text(pipeline.read_text().replace("fade_out: 0.2", "fade_out: 0.3"))
    again = run_cli("build", str(pipeline), "--force", "render")
    assert again.returncode == 0, again.stderr
    assert "random weights" not in again.stderr and "scorer skipped" not in again.stderr
    assert "didn't change" not in again.stderr
    assert cli("build", str(pipeline)).stderr == ""  # nothing to do: nothing said on stderr
    verbose = run_cli("build", str(pipeline), "--force", "render", "-v")  # -v after the command
    assert verbose.returncode == 0, verbose.stderr
    assert "Stage 'prompts' didn't change, skipping" in verbose.stderr
    assert verbose.stderr.count("random weights, the takes are noise") == 1  # under -v, every time
    assert "tiny-model" in json.loads((tmp_path / "albums/test-album/manifest/notices.json").read_text())


def test_verbose_after_the_command(tmp_path):
    pipeline = write_pipeline(tmp_path)
    r = cli("status", str(pipeline), "-v")
    assert r.exit_code == 0, r.output
    r = cli("build", "--dry-run", "--verbose", str(pipeline))
    assert r.exit_code == 0, r.output


# -- LLM edges ----------------------------------------------------------------------------------
def llm_pipeline(folder, base_url: str | None = None, source: str = "llm", **extra):
    llm = {"model": "test-model", "backoff": 0.01, "max_attempts": 2, "timeout": 5, **extra}
    if base_url:
        llm["base_url"] = base_url
    return write_pipeline(folder, {"album": {"title": None, "slug": "llm", "tracks": 2},
                                   "prompts": {"source": source, "llm": llm}})


def test_the_openai_endpoint_without_a_key_stops_in_preflight(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    for dry in ([], ["--dry-run"]):
        r = cli("build", str(llm_pipeline(tmp_path)), *dry)
        assert r.exit_code == 6, r.output
        assert r.stderr == ("Error: prompts.llm: OPENAI_API_KEY is not set, and https://api.openai.com/v1 needs an "
                            "API key (export OPENAI_API_KEY=<your key>, or point prompts.llm.base_url at a local "
                            "server such as Ollama (http://localhost:11434/v1))\n")
    assert nothing_written(tmp_path)


def test_a_local_server_needs_no_key(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    tracks = json.dumps({"album_title": "Night", "tracks": [
        {"title": "Neon Rain", "prompt": "synthwave with gated drums, 110 bpm"},
        {"title": "Night Drive", "prompt": "dark outrun with arpeggios, 100 bpm"}]})
    with LLMServer([chat(tracks)]) as server:
        r = cli("build", str(llm_pipeline(tmp_path, server.base_url)), "--until", "prompts")
        assert r.exit_code == 0, r.output
        assert server.calls == 1


def test_an_unusable_naming_answer_falls_back_to_offline_titles(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    untitled = "synthwave with gated drums, 110 bpm\ndark outrun with arpeggios, 100 bpm\n"
    with LLMServer([chat(untitled), chat("I cannot name things."), chat("Sorry, no.")]) as server:
        r = cli("build", str(llm_pipeline(tmp_path, server.base_url)), "--until", "prompts")
        assert r.exit_code == 0, r.output
        assert server.calls == 3
    warned = [ln for ln in r.stderr.splitlines() if "naming the tracks offline instead" in ln]
    assert len(warned) == 1 and warned[0].startswith("prompts: ")
    record = json.loads((tmp_path / "albums/llm/manifest/prompts/tracklist.json").read_text())
    titles = [t["title"] for t in record["tracks"]]
    assert len(titles) == 2 and all(titles) and "Untitled" not in titles and record["album_title"]
