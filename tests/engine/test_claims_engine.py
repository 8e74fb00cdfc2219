"""Documented claims about the engine and its edges that had no test of their own: speed
settings re-render nothing, weights that arrive later rescore, the ffmpeg fallback, a
melody checkpoint folder rendered by the transformers backend, and exit codes 70 and 130."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from helpers import cli, run_cli, write_pipeline

from albumgen.engine import runner
from albumgen.engine.store.manifest import Manifest


def units_run(album: Path, since: int) -> list[tuple[str, str]]:
    return [(e["stage"], e["unit"]) for e in Manifest(album).events()[since:] if e["event"] == "unit_done"]


def edit(pipeline: Path, **render) -> None:
    data = yaml.safe_load(pipeline.read_text())
    data["render"].update(render)
    pipeline.write_text(yaml.safe_dump(data))


def test_device_dtype_and_batch_size_changes_render_nothing(tmp_path):
    """docs/operations.md, How resume works: they change speed, not the request."""
    pipeline = write_pipeline(tmp_path, {"album": {"tracks": 1}, "render": {
        "duration": 0.4, "device": "cpu", "dtype": "float32", "batch_size": 1}})
    album = tmp_path / "albums" / "test-album"
    r = cli("build", str(pipeline), "--until", "render")
    assert r.exit_code == 0, r.output
    before = {rec.unit: rec.key for rec in Manifest(album).records("render")}
    assert len(before) == 2
    for change in ({"device": "auto"}, {"dtype": "bfloat16"}, {"dtype": "auto", "batch_size": "auto"}):
        edit(pipeline, **change)
        n = len(Manifest(album).events())
        r = cli("build", str(pipeline), "--until", "render")
        assert r.exit_code == 0, (change, r.output)
        assert units_run(album, n) == [] and "Nothing to do" in r.output, change
    assert {rec.unit: rec.key for rec in Manifest(album).records("render")} == before


def test_weights_that_arrive_later_rescore(tmp_path):
    """docs/configuration.md, pick: whether each scorer was available is part of the pick's key."""
    from clap import tiny_clap

    # A short prompt: the tiny CLAP's text positions stop at 64 tokens.
    pipeline = write_pipeline(tmp_path, {"album": {"tracks": 1}, "render": {"duration": 1.0},
                                         "prompts": {"source": "inline", "inline": ["warm analog synth pads"]},
                                         "pick": {"clap_model": "clap"}})
    album = tmp_path / "albums" / "test-album"
    r = cli("build", str(pipeline))
    assert r.exit_code == 0, r.output
    first = Manifest(album).record("pick", "t01")
    report = json.loads((album / "manifest/picks/t01.json").read_text())
    assert "not on this machine" in report["skipped"]["clap"]
    assert not any("clap" in t["features"] for t in report["takes"])

    r = cli("build", str(pipeline))  # nothing arrived: nothing runs
    assert r.exit_code == 0 and "Nothing to do" in r.output

    tiny_clap(tmp_path / "clap")  # the weights arrive (a folder beside the pipeline)
    n = len(Manifest(album).events())
    r = cli("build", str(pipeline))
    assert r.exit_code == 0, r.output
    assert ("pick", "t01") in units_run(album, n)
    assert not [u for s, u in units_run(album, n) if s == "render"]  # rescored, not re-rendered
    assert Manifest(album).record("pick", "t01").key != first.key
    report = json.loads((album / "manifest/picks/t01.json").read_text())
    assert "clap" not in report["skipped"]
    assert all("clap" in t["features"] and "clap" in t["z"] for t in report["takes"])


# -- ffmpeg -------------------------------------------------------------------------------
WHICH = "from albumgen.audio.ffmpeg import ffmpeg_exe; print(ffmpeg_exe())"


def ffmpeg_seen_with_path(path_dirs: list[Path]) -> str:
    env = {**os.environ, "PATH": os.pathsep.join(map(str, path_dirs))}
    r = subprocess.run([sys.executable, "-c", WHICH], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_ffmpeg_from_path_first_else_the_imageio_wheel(tmp_path):
    """docs/troubleshooting.md: the system ffmpeg if there is one, else imageio-ffmpeg's."""
    import imageio_ffmpeg

    bundled = imageio_ffmpeg.get_ffmpeg_exe()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert ffmpeg_seen_with_path([empty]) == bundled  # no ffmpeg on PATH: the wheel's
    system = tmp_path / "bin"
    system.mkdir()
    (system / "ffmpeg").symlink_to(bundled)  # a real ffmpeg binary installed "system-wide"
    assert ffmpeg_seen_with_path([empty, system]) == str(system / "ffmpeg")
    # ... and the one found really runs.
    out = subprocess.run([ffmpeg_seen_with_path([empty]), "-version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("ffmpeg version")


# -- melody -------------------------------------------------------------------------------
def save_tiny_melody(folder: Path) -> None:
    """A random-weight MusicgenMelody checkpoint folder, tokenizer included."""
    import torch
    from transformers import (
        EncodecConfig,
        MusicgenMelodyConfig,
        MusicgenMelodyDecoderConfig,
        MusicgenMelodyForConditionalGeneration,
        T5Config,
    )

    from albumgen.models.tiny import byte_tokenizer

    t5 = T5Config(vocab_size=259, d_model=32, d_kv=8, d_ff=64, num_layers=1, num_heads=4, decoder_start_token_id=0,
                  pad_token_id=0, eos_token_id=1)
    enc = EncodecConfig(sampling_rate=32000, audio_channels=1, num_filters=4, hidden_size=16, codebook_size=64,
                        codebook_dim=16, upsampling_ratios=[8, 5, 4, 4], target_bandwidths=[2.2],
                        num_lstm_layers=1, normalize=False, use_causal_conv=False, compress=2, num_residual_layers=1)
    dec = MusicgenMelodyDecoderConfig(vocab_size=64, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                                      ffn_dim=64, num_codebooks=4, pad_token_id=64, bos_token_id=64)
    torch.manual_seed(0)
    MusicgenMelodyForConditionalGeneration(MusicgenMelodyConfig(text_encoder=t5, audio_encoder=enc, decoder=dec,
                                                                num_chroma=12)).save_pretrained(folder)
    byte_tokenizer().save_pretrained(folder)


def test_a_melody_checkpoint_folder_renders_with_its_melody(tmp_path):
    """docs/configuration.md, Melody: a MusicgenMelody folder renders on the transformers backend (the fast
    loop's melody prefix), found from its config, not its name (test_melody_render.py holds
    the tokens to transformers' own generate)."""
    import numpy as np
    import soundfile as sf

    save_tiny_melody(tmp_path / "my-checkpoint")
    t = np.arange(32000) / 32000
    sf.write(tmp_path / "tune.wav", (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 32000)
    pipeline = write_pipeline(tmp_path, {"album": {"tracks": 1}, "render": {
        "model": "my-checkpoint", "takes": 1, "duration": 0.4, "melody": "tune.wav"}})
    r = cli("build", str(pipeline), "--until", "render")
    assert r.exit_code == 0, r.output
    (rec,) = Manifest(tmp_path / "albums" / "test-album").records("render")
    assert rec.unit == "t01/take-1" and rec.data["model"].endswith("my-checkpoint")


# -- exit codes ---------------------------------------------------------------------------
def test_a_bug_exits_70_with_one_line_and_the_traceback_only_with_verbose(tmp_path, monkeypatch):
    pipeline = write_pipeline(tmp_path)

    def bug(*args, **kwargs):  # fault injection: what any unexpected exception looks like
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(runner, "open_pipeline", bug)
    r = cli("build", str(pipeline))
    assert r.exit_code == 70
    assert r.stderr.strip() == ("Error: internal error: ZeroDivisionError: division by zero "
                                "(rerun with --verbose and report it)")
    r = cli("-v", "build", str(pipeline))
    assert r.exit_code == 70
    assert "Traceback (most recent call last)" in r.stderr and "in bug" in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("Error: internal error: ZeroDivisionError")


@pytest.mark.slow  # a build in a child process, interrupted, then resumed in another
def test_ctrl_c_exits_130_and_the_build_resumes(tmp_path):
    """A real SIGINT to a real build mid-render: exit 130, one line, takes kept."""
    pipeline = write_pipeline(tmp_path, {"album": {"tracks": 2}, "render": {"takes": 3, "duration": 1.0,
                                                                             "batch_size": 1}})
    album = tmp_path / "albums" / "test-album"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    # As from a terminal: a test run started in the background (`make test &`) ignores
    # SIGINT, and a child would inherit that and never see Ctrl-C.
    proc = subprocess.Popen([sys.executable, "-m", "albumgen", "build", str(pipeline)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 240
    try:
        while not (album / "manifest").is_dir() or len(Manifest(album).records("render")) < 1:
            assert proc.poll() is None, "build finished before it could be interrupted"
            assert time.monotonic() < deadline, "no take was rendered in time"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    kept = {r.unit: r.key for r in Manifest(album).records("render")}
    assert re.fullmatch(rf"Interrupted: kept {len(kept)} takes?; run the same build again to resume",
                        err.strip().splitlines()[-1]), err
    assert 1 <= len(kept) < 6
    n = len(Manifest(album).events())
    r = run_cli("build", str(pipeline))
    assert r.returncode == 0, r.stderr
    rendered_again = [u for s, u in units_run(album, n) if s == "render"]
    # A take whose files were in place when the build stopped, but not yet recorded, comes
    # back from its sidecar (albumgen.engine.store.recovery) instead of being rendered again.
    recovered = [e["unit"] for e in Manifest(album).events()[n:] if e["event"] == "unit_recovered"
                 and e["stage"] == "render"]
    assert not set(rendered_again) & set(kept) and not set(recovered) & set(kept)
    assert sorted(rendered_again + recovered) == sorted(set(rendered_again + recovered))
    assert len(rendered_again) + len(recovered) == 6 - len(kept)
