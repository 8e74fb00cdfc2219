"""Melody on the transformers backend: the fast loop's chroma + text prefix (MusicgenMelody)
against transformers' own generate and the reference loop, on the tiny melody presets, and
render.melody through the render stage."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch
from click.testing import CliRunner
from helpers import write_pipeline
from melody_fixtures import SR, A, C, hf_greedy_codes, tone
from reference_loop import generate_codes
from render_album import build, takes

from albumgen.cli import main
from albumgen.config import load_config
from albumgen.engine import runner
from albumgen.engine.store.hashing import sha256_file
from albumgen.engine.store.manifest import Manifest
from albumgen.models.fast import FastLoop
from albumgen.models.melody import chroma, melody_window, take_chromas
from albumgen.models.musicgen import load_musicgen
from albumgen.models.sampling import Sampling
from albumgen.models.windows import Windows, generate_long
from albumgen.stages.render import RenderStage

PROMPTS = ["calm piano", "a much longer prompt about drums, bass and a slow organ"]
SEEDS = [11, 2**62 + 5]
FRAMES = 40


@pytest.fixture(scope="module", params=["tiny-melody", "tiny-stereo-melody"])
def lm(request):
    return load_musicgen(request.param, "cpu")


@pytest.fixture(scope="module")
def loop(lm):
    return FastLoop(lm)


def test_fast_greedy_equals_transformers_generate_with_and_without_melody(lm, loop):
    """One batch: a short prompt with a melody, a longer one without (null chroma); each take
    equals generate run for it alone (generate attends padded text, so it is run unpadded)."""
    got = loop.generate(PROMPTS, SEEDS, FRAMES, Sampling(greedy=True), melodies=[A, None])
    assert got.shape == (2, lm.num_codebooks, FRAMES)
    assert torch.equal(got[0], hf_greedy_codes(lm, PROMPTS[0], A, FRAMES))
    assert torch.equal(got[1], hf_greedy_codes(lm, PROMPTS[1], None, FRAMES))


def test_fast_sampling_equals_the_reference_loop(lm, loop):
    s = Sampling(top_k=12, top_p=0.9, temperature=0.8, cfg=3.0)
    got = loop.generate(PROMPTS, SEEDS, FRAMES, s, melodies=[A, C])
    for i, m in enumerate((A, C)):
        assert torch.equal(got[i], generate_codes(lm, PROMPTS[i:i + 1], SEEDS[i:i + 1], FRAMES, s, melodies=[m])[0])
    graphed = FastLoop(lm, graphs=True)  # the CPU stand-in runs the captured-step path
    assert torch.equal(graphed.generate(PROMPTS, SEEDS, FRAMES, s, melodies=[A, C]), got)


def test_the_melody_changes_the_tokens(lm, loop):
    """transformers #45647: MusicgenMelody 5.x ignored the audio reference. Here a melody,
    and another melody, give other tokens than none, greedy and sampled."""
    for s in (Sampling(greedy=True), Sampling(top_k=20)):
        plain, a, c = (loop.generate(PROMPTS[:1], SEEDS[:1], FRAMES, s, melodies=m) for m in (None, [A], [C]))
        assert not torch.equal(a, plain) and not torch.equal(c, plain) and not torch.equal(a, c)
        assert torch.equal(loop.generate(PROMPTS[:1], SEEDS[:1], FRAMES, s, melodies=[None]), plain)


def test_take_tokens_do_not_depend_on_batch_layout(loop):
    s = Sampling(top_k=20)
    batch = loop.generate(PROMPTS + ["strings"], SEEDS + [7], FRAMES, s, melodies=[A, None, C])
    alone = [loop.generate([p], [seed], FRAMES, s, melodies=[m])[0]
             for p, seed, m in zip(PROMPTS + ["strings"], SEEDS + [7], [A, None, C])]
    assert all(torch.equal(batch[i], alone[i]) for i in range(3))
    padded = loop.generate(PROMPTS, SEEDS, FRAMES, s, melodies=[A, None], rows=5)  # a fixed CUDA row count
    assert torch.equal(padded, batch[:2])


def test_continuation_windows_follow_the_melody_on(lm, loop):
    """A window after the first conditions on the melody from its own start (looped), as the
    audiocraft backend does; the first window is the single-window take's."""
    s = Sampling(top_k=20)
    m = tone(330, 1.3)
    long = generate_long(loop, PROMPTS[:1], SEEDS[:1], 70, s, Windows(max_frames=50, stride_frames=20),
                         melodies=[m])
    first = loop.generate(PROMPTS[:1], SEEDS[:1], 50, s, melodies=[m])
    assert long.shape[-1] == 70 and torch.equal(long[..., :50], first)
    window = melody_window(m, lm.sample_rate, lm.frame_rate, 20, 50)
    assert torch.equal(window[0, :640], m[0, 20 * 640:21 * 640])  # from frame 20 ...
    assert torch.equal(window[0, -640:], m[0, (70 * 640 - 640) % m.shape[-1]:][:640])  # ... looped
    used = take_chromas([m], 1, lm.chroma, lm.sample_rate, lm.frame_rate, 20, 50)[0]  # what window 2 follows
    assert torch.equal(used, chroma(window, lm.chroma)) and not torch.equal(used, chroma(m, lm.chroma))
    # Window 2 of the long take depends on that part only: another melody with the same
    # samples there (silence before) gives the same tokens.
    same_there = torch.cat([torch.zeros(1, 20 * 640), window], dim=1)
    second = loop.generate(PROMPTS[:1], SEEDS[:1], 50, s, prompt_codes=long[..., 20:50], frame_offset=20,
                           melodies=[same_there])
    assert torch.equal(long[..., 50:], second[..., 30:])


def test_a_checkpoint_s_own_chroma_settings_are_used(tmp_path):
    """A folder's preprocessor_config.json (MusicgenMelodyFeatureExtractor's settings) sets
    the chroma; without one, the extractor's defaults (those of every facebook melody model)."""
    import json

    from albumgen.audio.signal import resample
    from albumgen.models.melody import ChromaSettings
    from albumgen.models.tiny import build_tiny, byte_tokenizer

    build_tiny(melody=True).save_pretrained(tmp_path)
    byte_tokenizer().save_pretrained(tmp_path)
    assert load_musicgen(str(tmp_path), "cpu").chroma == ChromaSettings()
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({
        "feature_extractor_type": "MusicgenMelodyFeatureExtractor", "sampling_rate": 16000, "hop_length": 2048,
        "n_fft": 8192, "num_chroma": 12, "chunk_length": 30}))
    lm = load_musicgen(str(tmp_path), "cpu")
    assert lm.chroma == ChromaSettings(sampling_rate=16000, hop_length=2048, n_fft=8192)
    got = take_chromas([C], 1, lm.chroma, lm.sample_rate, lm.frame_rate, 0, 50)[0]
    assert torch.equal(got, chroma(torch.from_numpy(resample(C[0].numpy(), SR, 16000)), lm.chroma))
    assert got.shape == (2 * 16000 // 2048 + 1, 12)  # frames at the checkpoint's own hop


def test_a_model_without_melody_refuses_one(tmp_path):
    text_only = FastLoop(load_musicgen("tiny", "cpu"))
    with pytest.raises(ValueError, match="without melody"):
        text_only.generate(PROMPTS[:1], SEEDS[:1], 10, Sampling(), melodies=[A])
    sf.write(tmp_path / "tune.wav", A[0].numpy(), SR)
    pipeline = write_pipeline(tmp_path, {"render": {"melody": "tune.wav", "takes": 1, "duration": 0.2}})
    r = CliRunner().invoke(main, ["build", str(pipeline)])
    assert r.exit_code == 5, r.output
    assert r.stderr.strip().splitlines()[-1] == ("Error: render.melody: tiny is not a melody checkpoint "
                                                 "(use one, e.g. facebook/musicgen-melody (or tiny-melody to try it))")
    assert Manifest(tmp_path / "albums" / "test-album").records("render") == []


def test_render_melody_on_the_tiny_melody_model_keys_takes_by_the_file(tmp_path):
    sf.write(tmp_path / "tune.wav", A[0].numpy(), SR)
    # A random model's logits are nearly flat (its weights are std 0.02): sampling noise drowns
    # what any condition moves them by, so these takes keep the best token (top_k 1).
    render = {"model": "tiny-melody", "takes": 1, "duration": 0.4, "top_k": 1, "melody": {"t01": "tune.wav"}}
    (tmp_path / "plain").mkdir()
    plain = takes(build(tmp_path / "plain", {**render, "melody": None}))
    album = build(tmp_path, render)
    got = takes(album)
    assert not np.array_equal(got["t01/take-1"][0], plain["t01/take-1"][0])  # t01 follows tune.wav
    assert np.array_equal(got["t02/take-1"][0], plain["t02/take-1"][0])  # t02 has none: as before
    ctx = runner.make_context(*load_config(tmp_path / "pipeline.yaml"), "pipeline.yaml")
    units = {u.id: u for u in RenderStage().plan(ctx)}
    assert units["t01/take-1"].inputs["melody"] == sha256_file(tmp_path / "tune.wav")
    assert "melody" not in units["t02/take-1"].inputs
    records = {r.unit: r for r in Manifest(album).records("render")}
    assert records["t01/take-1"].key == RenderStage().key(units["t01/take-1"])
    # Another tune under the same name: t01 renders again, to other tokens; t02 stays.
    sf.write(tmp_path / "tune.wav", C[0].numpy(), SR)
    again = takes(build(tmp_path, render))
    assert not np.array_equal(again["t01/take-1"][0], got["t01/take-1"][0])
    keys = {r.unit: r.key for r in Manifest(album).records("render")}
    assert keys["t01/take-1"] != records["t01/take-1"].key and keys["t02/take-1"] == records["t02/take-1"].key


def test_a_text_encoder_narrower_than_the_decoder_as_in_the_real_checkpoints():
    """Real melody checkpoints project t5-base's 768 wide states to the decoder's width
    (enc_to_dec_proj; the melody decoder's config has no cross_attention_hidden_size); the
    presets' T5 is as wide as their decoder. A narrower T5 here: still generate's tokens."""
    import torch.nn as nn
    from transformers import MusicgenMelodyConfig, MusicgenMelodyForConditionalGeneration, T5Config

    from albumgen.models.loaded import LoadedModel
    from albumgen.models.melody import ChromaSettings
    from albumgen.models.tiny import build_tiny, byte_tokenizer

    base = build_tiny(melody=True).config
    t5 = T5Config(vocab_size=259, d_model=16, d_kv=4, d_ff=32, num_layers=1, num_heads=4, decoder_start_token_id=0,
                  pad_token_id=0, eos_token_id=1)
    torch.manual_seed(1)
    model = MusicgenMelodyForConditionalGeneration(MusicgenMelodyConfig(
        text_encoder=t5, audio_encoder=base.audio_encoder, decoder=base.decoder, num_chroma=12)).eval()
    assert isinstance(model.enc_to_dec_proj, nn.Linear)
    with torch.no_grad():
        model.audio_enc_to_dec_proj.weight.normal_(0.0, 1.0)  # as the preset: a melody that shows
    model.generation_config = build_tiny(melody=True).generation_config
    lm = LoadedModel(model=model, tokenizer=byte_tokenizer(), model_id="narrow", revision="random", device="cpu",
                     dtype=torch.float32, sample_rate=32000, frame_rate=50, channels=1, num_codebooks=4,
                     chroma=ChromaSettings())
    got = FastLoop(lm).generate(PROMPTS, SEEDS, FRAMES, Sampling(greedy=True), melodies=[A, None])
    assert torch.equal(got[0], hf_greedy_codes(lm, PROMPTS[0], A, FRAMES))
    assert torch.equal(got[1], hf_greedy_codes(lm, PROMPTS[1], None, FRAMES))


def test_rowwise_attention_gives_the_same_tokens_with_the_melody_prefix(lm, loop):
    """The chroma + text prefix (its padded text masked per row) through the row-wise attention."""
    s = Sampling(top_k=12, top_p=0.9, temperature=0.8, cfg=3.0)
    rowwise = FastLoop(lm, attention="rowwise")
    assert torch.equal(rowwise.generate(PROMPTS, SEEDS, FRAMES, s, melodies=[A, C]),
                       loop.generate(PROMPTS, SEEDS, FRAMES, s, melodies=[A, C]))
    got = rowwise.generate(PROMPTS, SEEDS, FRAMES, Sampling(greedy=True), melodies=[A, None])
    assert torch.equal(got[0], hf_greedy_codes(lm, PROMPTS[0], A, FRAMES))
    padded = rowwise.generate(PROMPTS[:1], SEEDS[:1], FRAMES, s, melodies=[A], rows=3)
    assert torch.equal(padded[0], loop.generate(PROMPTS, SEEDS, FRAMES, s, melodies=[A, C])[0])
