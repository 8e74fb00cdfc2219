"""`albumgen score FILE...`: any format, rate and channel count; JSON as documented."""
from __future__ import annotations

import json
import subprocess

import audio_fixtures as F
import pytest
import soundfile as sf
from click.testing import CliRunner
from helpers import write_pipeline

from albumgen.audio.ffmpeg import ffmpeg_exe
from albumgen.cli import main

SECONDS = 4.0


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The same kinds of take in four formats, three rates, mono and stereo, int and float."""
    d = tmp_path_factory.mktemp("score")
    out = {"clean": d / "clean.wav", "noise": d / "noise.flac", "loop": d / "loop.ogg", "drone": d / "drone.mp3"}
    sf.write(out["clean"], F.music(32000, SECONDS), 32000, subtype="FLOAT")
    sf.write(out["noise"], F.stereo(F.white_noise(44100, SECONDS)), 44100, subtype="PCM_16")
    sf.write(out["loop"], F.exact_loop(48000, SECONDS), 48000, format="OGG", subtype="VORBIS")
    wav = d / "drone-src.wav"
    sf.write(wav, F.stereo(F.drone(44100, SECONDS)), 44100)
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(wav), "-b:a", "192k", str(out["drone"])], check=True)
    return out


def score(*args):
    return CliRunner().invoke(main, ["score", *map(str, args)])


def test_json_reports_every_file_and_picks_the_music(files):
    res = score(*files.values(), "--json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["schema_version"] == 1 and report["prompt"] is None
    assert report["picked"] == str(files["clean"]) and report["all_rejected"] is False
    by = {f["file"]: f for f in report["files"]}
    assert [f["file"] for f in report["files"]] == [str(p) for p in files.values()]
    assert {k: (by[str(p)]["sample_rate"], by[str(p)]["channels"]) for k, p in files.items()} == {
        "clean": (32000, 1), "noise": (44100, 2), "loop": (48000, 1), "drone": (44100, 2)}
    hard = {k: [r.split(":")[0] for r in by[str(p)]["rejects"]] for k, p in files.items()}
    assert hard == {"clean": [], "noise": ["noise"], "loop": ["loop"], "drone": ["drone"]}
    assert [f["picked"] for f in report["files"]] == [True, False, False, False]
    assert max(report["files"], key=lambda f: f["score"])["file"] == str(files["clean"])
    clean = by[str(files["clean"])]
    assert set(clean) == {"file", "sample_rate", "channels", "score", "quality", "picked", "rejects", "warnings",
                          "checks", "features", "z"}
    # A rejected file's score sits under the accepted one's, whatever its quality.
    assert all(by[str(p)]["score"] < clean["score"] for k, p in files.items() if k != "clean")
    assert abs(clean["features"]["seconds"] - SECONDS) < 0.01
    # The features for generated music's own failures, dull_db from the group.
    assert {"hf_db", "dull_db", "dropouts", "stuck_s", "hum_db", "hum_hz"} <= set(clean["features"])
    assert set(report["skipped"]) == {"clap", "aesthetics"} and report["errors"] == []


def test_text_output_names_the_pick(files):
    res = score(files["noise"], files["clean"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[-1] == f"Picked: {files['clean']}"
    assert f"{files['clean']}: score " in res.output and "  <- picked" in res.output
    assert any(line.startswith("  reject  noise: noise-like") for line in lines)


def test_an_unreadable_file_is_reported_and_the_rest_scored(files, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    res = score(files["clean"], bad, tmp_path / "missing.ogg", "--json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)  # stderr (the unreadable files, one line each) stays out of the JSON
    assert [f["file"] for f in report["files"]] == [str(files["clean"])]
    assert [e["file"] for e in report["errors"]] == [str(bad), str(tmp_path / "missing.ogg")]
    assert report["errors"][1]["error"].endswith("no such audio file (check the path)")


def test_nothing_readable_is_an_error(tmp_path):
    res = score(tmp_path / "missing.wav")
    assert res.exit_code == 3
    assert res.output.splitlines()[-1] == "Error: no file could be scored (check the paths and formats)"


def test_one_file_and_all_bad_files(files):
    report = json.loads(score(files["clean"], "--json").stdout)
    assert report["picked"] == str(files["clean"]) and report["files"][0]["score"] == 0.0
    report = json.loads(score(files["noise"], files["loop"], "--json").stdout)
    assert report["all_rejected"] is True and report["picked"] in {str(files["noise"]), str(files["loop"])}
    res = score(files["noise"], files["loop"])
    assert res.output.splitlines()[-1].endswith("(every file failed the hard checks: least bad)")


def test_prompt_without_clap_weights_says_why(files):
    report = json.loads(score(files["clean"], "--prompt", "warm pads", "--json").stdout)
    assert report["prompt"] == "warm pads"
    assert "not on this machine" in report["skipped"]["clap"]


def test_pipeline_pick_settings_apply(files, tmp_path):
    pipeline = write_pipeline(tmp_path, {"pick": {"hard_checks": ["noise"]}})
    report = json.loads(score(files["loop"], files["drone"], "--pipeline", pipeline, "--json").stdout)
    assert [f["rejects"] for f in report["files"]] == [[], []]
    assert "loop" in report["files"][0]["checks"]
