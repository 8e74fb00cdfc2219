"""render.backend: acestep on the tiny-acestep preset: the real diffusers ACE-Step classes
with tiny random weights, a few seconds of 48 kHz stereo on the CPU."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch
from helpers import write_pipeline

from albumgen.config import load_config
from albumgen.engine import runner
from albumgen.engine.store.manifest import Manifest
from albumgen.errors import ConfigError
from albumgen.models.acestep import Request, bytes_per_take, decode_latents, generate, load_acestep
from albumgen.stages.render import songs

pytest.importorskip("diffusers")

SECONDS = 2.0
SONG = {"render": {"backend": "acestep", "model": "tiny-acestep", "takes": 2, "duration": SECONDS, "device": "cpu"}}


@pytest.fixture(scope="module")
def lm():
    return load_acestep("tiny-acestep", "cpu")


def test_the_preset_is_the_real_pipeline_classes_at_the_real_rates(lm):
    from diffusers import AceStepPipeline, AutoencoderOobleck
    from transformers import Qwen3Model

    assert isinstance(lm.pipe, AceStepPipeline)
    assert isinstance(lm.pipe.vae, AutoencoderOobleck) and isinstance(lm.pipe.text_encoder, Qwen3Model)
    assert (lm.sample_rate, lm.frame_rate, lm.channels, lm.revision) == (48000, 25.0, 2, "random")


def test_albumgen_loop_matches_the_pipeline_call(lm):
    """text2music through AceStepPipeline.__call__ and through albumgen's loop over the same
    parts: the same take, with the prompt's bpm, key and metre as the model's own metadata."""
    req = Request(prompt="warm lofi piano", bpm=92, key="A minor", meter="3")
    latents = generate(lm, [req], [11], SECONDS, steps=4, guidance=1.0, shift=3.0)
    ours = decode_latents(lm, latents[0])
    theirs = lm.pipe(prompt="warm lofi piano", lyrics="", audio_duration=SECONDS, num_inference_steps=4,
                     guidance_scale=1.0, shift=3.0, bpm=92, keyscale="A minor", timesignature="3",
                     generator=torch.Generator().manual_seed(11)).audios[0]
    assert ours.shape == theirs.shape == (2, int(SECONDS * 48000))
    # A lone take runs beside a copy of itself (see albumgen.models.acestep): last-bit rounding only.
    assert torch.allclose(ours, theirs, atol=1e-5)
    # Without the metadata it is another take: bpm and key reach the model (far past rounding).
    plain = generate(lm, [Request(prompt="warm lofi piano")], [11], SECONDS, 4, 1.0, 3.0)
    assert (plain - latents).abs().max() > 1e-3
    in_four = generate(lm, [Request(prompt="warm lofi piano", bpm=92, key="A minor", meter="4")], [11],
                       SECONDS, 4, 1.0, 3.0)
    assert (in_four - latents).abs().max() > 1e-3  # the metre reaches the model too


def test_lyrics_and_their_language_reach_the_model(lm):
    base = Request(prompt="ballad", lyrics="[verse]\nrain on me")
    sung = generate(lm, [base], [3], SECONDS, 4, 1.0, 3.0)
    other = generate(lm, [Request(prompt="ballad", lyrics="[verse]\nsun on me")], [3], SECONDS, 4, 1.0, 3.0)
    german = generate(lm, [Request(prompt="ballad", lyrics="[verse]\nrain on me", language="de")], [3],
                      SECONDS, 4, 1.0, 3.0)
    assert (sung - other).abs().max() > 1e-3 and (sung - german).abs().max() > 1e-3  # rounding: ~1e-6


def test_bpm_and_key_are_the_model_metadata(lm):
    text, _ = lm.pipe._format_prompt(prompt="p", bpm=92, keyscale="A minor", audio_duration=SECONDS)
    assert "- bpm: 92\n" in text and "- keyscale: A minor\n" in text


@pytest.mark.parametrize("prompt, meter", [
    ("a slow waltz for strings, 84 bpm", "3"), ("jazz in 3/4, brushed drums", "3"),
    ("folk dance in 6/8 time", "6"), ("four on the floor house, 4/4, 124 bpm", "4"),
    ("a 2/4 polka", "2"), ("two thirds ambient, fades at 2/3", None), ("lofi piano, 92 bpm", None),
    ("a bar of 5/4", None)])
def test_the_prompts_metre_is_read_as_the_models_timesignature(prompt, meter):
    from albumgen.prompt_music import asked_meter

    assert asked_meter(prompt) == meter


def test_a_take_alone_equals_the_same_take_in_a_batch_of_four_bit_for_bit(lm):
    reqs = [Request(prompt="warm lofi piano", bpm=92, key="A minor"),
            Request(prompt="a much longer prompt about a brass band marching through rain", bpm=120),
            Request(prompt="warm lofi piano", bpm=92, key="A minor"),
            Request(prompt="choir", lyrics="[verse]\nla la la\n[chorus]\noh", language="en")]
    seeds = [5, 6, 7, 8]
    four = generate(lm, reqs, seeds, SECONDS, 4, 1.0, 3.0)
    for i in (0, 1, 3):
        alone = generate(lm, [reqs[i]], [seeds[i]], SECONDS, 4, 1.0, 3.0)
        assert torch.equal(alone[0], four[i]), i
        assert torch.equal(decode_latents(lm, alone[0]), decode_latents(lm, four[i]))
    assert not torch.equal(four[0], four[2])  # same prompt, other seed: another take


def test_auto_batch_size_follows_this_models_memory_per_take(lm, monkeypatch):
    from albumgen.stages.render.config import RenderConfig

    cfg = RenderConfig(backend="acestep", model="tiny-acestep", duration=120)
    take = bytes_per_take(lm, 120)
    monkeypatch.setattr(songs, "free_memory", lambda device: int(10 * take / 0.8) + 1)  # a GPU with room for 10
    assert songs.auto_batch_size(lm, cfg, pending=40) == 10
    assert songs.auto_batch_size(lm, cfg, pending=3) == 3
    monkeypatch.setattr(songs, "free_memory", lambda device: None)  # the CPU: no memory to size by
    assert songs.auto_batch_size(lm, cfg, pending=40) == 8


def test_memory_per_take_grows_with_duration_and_guidance(lm):
    assert bytes_per_take(lm, 180) > 10 * bytes_per_take(lm, 10) > 0
    assert bytes_per_take(lm, 60, guidance=7.0) == bytes_per_take(lm, 60)  # turbo: guidance distilled away


@pytest.fixture(scope="module")
def album(tmp_path_factory):
    folder = tmp_path_factory.mktemp("songs")
    pipeline = write_pipeline(folder, {**SONG, "prompts": {"source": "inline", "inline": [
        "warm lofi piano, 92 bpm, in A minor", "brass band, 120 bpm, in Bb major"]}})
    config, base = load_config(pipeline)
    ctx = runner.make_context(config, base, pipeline.name, progress=False)
    runner.build(ctx, until="render")
    return ctx.album_dir


def test_takes_are_48k_stereo_with_latents_and_the_record_says_how(album, lm):
    recs = {r.unit: r for r in Manifest(album).records("render")}
    assert sorted(recs) == ["t01/take-1", "t01/take-2", "t02/take-1", "t02/take-2"]
    rec = recs["t02/take-2"]
    d = rec.data
    assert (d["backend"], d["model"], d["revision"]) == ("acestep", "tiny-acestep", "random")
    assert d["sampling"] == {"steps": 8, "guidance": 7.0, "shift": 3.0}
    assert (d["bpm"], d["key"]) == (120, "A# major")
    assert sorted(rel.rsplit(".", 1)[1] for rel in rec.outputs) == ["json", "latents", "wav"]
    stem = album / "manifest" / "takes" / "t02" / "take-2"
    audio, sr = sf.read(f"{stem}.wav", dtype="float32", always_2d=True)
    assert (sr, audio.shape) == (48000, (int(SECONDS * 48000), 2))
    latents = np.load(f"{stem}.latents")
    assert latents.shape == (50, 8)
    # The saved latents give the take's audio back exactly.
    again = decode_latents(lm, torch.from_numpy(latents)).numpy().T
    assert np.array_equal(again, audio)


def test_the_album_is_built_to_mp3(tmp_path):
    pipeline = write_pipeline(tmp_path, {**SONG, "album": {"tracks": 1}})
    config, base = load_config(pipeline)
    ctx = runner.make_context(config, base, pipeline.name, progress=False)
    runner.build(ctx)
    assert [p.name for p in ctx.album_dir.glob("*.mp3")] == ["01 - " + ctx.artifacts.tracklist().tracks[0].title + ".mp3"]


def test_oom_halves_the_batch_and_the_takes_stay_the_same(tmp_path, monkeypatch, album):
    real = songs.generate_songs
    sizes = []

    def tight(lm, requests, seeds, cfg, on_step=None, rows=None):
        sizes.append(len(requests))
        if len(requests) > 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(lm, requests, seeds, cfg, on_step, rows)

    monkeypatch.setattr(songs, "generate_songs", tight)
    pipeline = write_pipeline(tmp_path, {**SONG, "prompts": {"source": "inline", "inline": [
        "warm lofi piano, 92 bpm, in A minor", "brass band, 120 bpm, in Bb major"]}})
    config, base = load_config(pipeline)
    ctx = runner.make_context(config, base, pipeline.name, progress=False)
    runner.build(ctx, until="render")
    assert sizes[:3] == [4, 2, 1]
    events = [e for e in Manifest(ctx.album_dir).events() if e["event"] == "render_oom"]
    assert [e["batch_size"] for e in events] == [2, 1]
    for rel in ("t01/take-1.wav", "t02/take-2.latents"):
        a = (ctx.album_dir / "manifest" / "takes" / rel).read_bytes()
        assert a == (album / "manifest" / "takes" / rel).read_bytes(), rel


def test_without_diffusers_the_build_stops_with_one_line_before_any_work(tmp_path, monkeypatch):
    import sys

    from click.testing import CliRunner

    from albumgen.cli import main

    monkeypatch.setitem(sys.modules, "diffusers", None)  # as if the extra were not installed
    r = CliRunner().invoke(main, ["build", str(write_pipeline(tmp_path, SONG))])
    assert r.exit_code == 5
    assert r.output.strip().splitlines()[-1] == ("Error: render.backend: acestep needs diffusers with AceStepPipeline "
                                                 "(diffusers is missing) (install it: pip install 'albumgen[acestep]')")
    assert not (tmp_path / "albums" / "test-album" / "manifest" / "prompts").exists()


@pytest.mark.parametrize("render, message", [
    ({"backend": "acestep", "model": "tiny"}, "is a MusicGen model"),
    ({"backend": "transformers", "model": "tiny-acestep"}, "needs backend: acestep"),
    ({"backend": "acestep", "model": "tiny-acestep", "melody": "a.wav"}, "takes no intro, melody or decoder"),
])
def test_config_refuses_a_backend_and_model_that_do_not_fit(tmp_path, render, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write_pipeline(tmp_path, {"render": render}))


def test_the_key_is_the_song_settings_only(tmp_path):
    config, _ = load_config(write_pipeline(tmp_path, SONG))
    assert config.render.key_fields() == {"backend": "acestep", "model": "tiny-acestep", "duration": SECONDS,
                                          "steps": 8, "guidance": 7.0, "shift": 3.0}
