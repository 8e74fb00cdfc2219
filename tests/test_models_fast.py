"""The fast loop against transformers' generate and the reference loop, on the tiny model."""
from __future__ import annotations

import pytest
import torch

from albumgen.models import noise
from albumgen.models.decode import Sampling, generate_codes
from albumgen.models.fast import FastLoop
from albumgen.models.musicgen import decode_tokens, load_musicgen
from albumgen.models.windows import Windows, generate_long

PROMPTS = ["calm piano", "a much longer prompt about drums, bass and a slow organ"]
SEEDS = [11, 2**62 + 5]
FRAMES = 40


@pytest.fixture(scope="module", params=["tiny", "tiny-stereo"])
def lm(request):
    return load_musicgen(request.param, "cpu")


@pytest.fixture(scope="module")
def loop(lm):
    return FastLoop(lm)


def hf_greedy_codes(lm, prompts, frames):
    """transformers' own generate, greedy with CFG 3; its tokens caught on their way to EnCodec."""
    seen = []
    ae = lm.model.audio_encoder
    original = ae.decode

    def record(codes, *args, **kwargs):
        seen.append(codes[0])
        return original(codes, *args, **kwargs)

    ae.decode = record
    try:
        ids, mask = lm.tokenize(prompts)
        lm.model.generate(input_ids=ids, attention_mask=mask, do_sample=False, guidance_scale=3.0,
                          max_new_tokens=frames + lm.num_codebooks // lm.channels - 1)
    finally:
        ae.decode = original
    if lm.channels == 1:
        return seen[0]
    out = torch.empty(len(prompts), lm.num_codebooks, frames, dtype=torch.long)
    out[:, 0::2], out[:, 1::2] = seen  # generate decodes left (even) and right (odd) codebooks apart
    return out


def test_fast_greedy_equals_transformers_generate(lm, loop):
    want = hf_greedy_codes(lm, PROMPTS, FRAMES)
    got = loop.generate(PROMPTS, SEEDS, FRAMES, Sampling(greedy=True))
    assert got.shape == (2, lm.num_codebooks, FRAMES)
    assert torch.equal(got, want)
    assert torch.equal(generate_codes(lm, PROMPTS, SEEDS, FRAMES, Sampling(greedy=True)), want)


def test_fast_sampling_equals_reference_loop(lm, loop):
    s = Sampling(top_k=12, top_p=0.9, temperature=0.8, cfg=3.0)
    got = loop.generate(PROMPTS, SEEDS, FRAMES, s)
    assert torch.equal(got, generate_codes(lm, PROMPTS, SEEDS, FRAMES, s))
    # Sampled tokens differ from greedy ones and between takes: the noise is really there.
    assert not torch.equal(got, loop.generate(PROMPTS, SEEDS, FRAMES, Sampling(greedy=True)))
    assert not torch.equal(got[0], got[1])


def test_take_tokens_do_not_depend_on_batch_layout(loop):
    s = Sampling(top_k=20)
    batch = loop.generate(PROMPTS + ["strings"], SEEDS + [7], FRAMES, s)
    alone = loop.generate(PROMPTS[1:], SEEDS[1:], FRAMES, s)
    assert torch.equal(batch[1], alone[0])
    assert torch.equal(loop.generate(PROMPTS, SEEDS, FRAMES, s), batch[:2])  # and again: same tokens


def test_graph_path_gives_the_eager_tokens(lm, loop):
    """The per-bucket capture path (warm-up step, counter restored, replays), run on CPU with
    a stand-in for the CUDA graph; small buckets so a take crosses several."""
    s = Sampling(top_k=20)
    graphed = FastLoop(lm, bucket=8, graphs=True)
    got = graphed.generate(PROMPTS, SEEDS, FRAMES, s)
    assert torch.equal(got, loop.generate(PROMPTS, SEEDS, FRAMES, s))
    last = FRAMES + lm.num_codebooks // lm.channels  # the whole window: 44 positions
    assert sorted(next(iter(graphed._states.values())).graphs) == [8, 16, 24, 32, 40, last]
    assert torch.equal(graphed.generate(PROMPTS, SEEDS, FRAMES, s), got)  # graphs reused on a new batch


def test_a_refused_capture_falls_back_to_eager_steps(lm, loop, caplog):
    s = Sampling(top_k=20)
    graphed = FastLoop(lm, bucket=8, graphs=True)
    real, calls = graphed._graph, []

    def refuse_third(st, length, s):  # the third bucket's capture fails
        calls.append(length)
        if len(calls) == 3:
            st.pos.add_(1)  # a capture that fails half way must not leave the counter moved
            raise RuntimeError("operation not permitted when stream is capturing")
        return real(st, length, s)

    graphed._graph = refuse_third
    got = graphed.generate(PROMPTS, SEEDS, FRAMES, s)
    assert torch.equal(got, loop.generate(PROMPTS, SEEDS, FRAMES, s))
    assert calls == [8, 16, 24] and not graphed.use_graphs and "CUDA graph capture failed" in caplog.text


def test_noise_is_a_function_of_seed_step_codebook_token():
    counters = noise.token_counters(4, 64, "cpu")
    keys = noise.take_keys([1, 2, 1], "cpu")
    g = noise.gumbel(keys, 3, counters)
    assert g.shape == (3, 4, 64) and torch.isfinite(g).all()
    assert torch.equal(g[0], g[2]) and not torch.equal(g[0], g[1])
    assert not torch.equal(g, noise.gumbel(keys, 4, counters))
    assert torch.equal(g, noise.gumbel(keys, torch.tensor([3]), counters))  # a device counter gives the same
    u = torch.exp(-torch.exp(-noise.gumbel(noise.take_keys([5], "cpu"), 0, noise.token_counters(64, 2048, "cpu"))))
    assert abs(u.mean().item() - 0.5) < 0.01 and abs(u.var().item() - 1 / 12) < 0.005  # uniform underneath


def test_continuation_past_the_window(lm, loop):
    """A 2 s take with 1 s windows and 0.6 s stride: windows at frames 0, 30 and 60."""
    windows = Windows(max_frames=50, stride_frames=30)
    assert windows.plan(100) == [(0, 50), (30, 50), (60, 40)]
    s = Sampling(top_k=20)
    seen = []
    codes = generate_long(loop, PROMPTS, SEEDS, 100, s, windows, on_step=seen.append)
    k = lm.num_codebooks
    assert codes.shape == (2, k, 100)
    delay = k // lm.channels - 1
    assert seen[-1] == windows.steps(100, delay) == 50 + 30 + 20 + 3 * delay
    # The first window is the take a single 1 s render gives; what follows continues it.
    first = loop.generate(PROMPTS, SEEDS, 50, s)
    assert torch.equal(codes[..., :50], first)
    # The second window, prompted with frames 30..49, keeps them and adds frames 50..79.
    second = loop.generate(PROMPTS, SEEDS, 50, s, prompt_codes=first[..., 30:], frame_offset=30)
    assert torch.equal(second[..., :20], first[..., 30:])
    assert torch.equal(codes[..., 50:80], second[..., 20:])
    assert not torch.equal(codes[..., 50:60], codes[..., 40:50])  # fresh noise, not a loop of the prompt

    assert len(loop._states) == 1  # the shorter last window reused the first window's cache

    audio = decode_tokens(lm, codes)
    hop = lm.sample_rate // lm.frame_rate
    assert audio.shape == (2, lm.channels, 100 * hop)
    x = audio[0, 0]
    diff = (x[1:] - x[:-1]).abs()
    rms = x.pow(2).mean().sqrt()
    for join in (50 * hop, 80 * hop):
        around = x[join - hop // 2: join + hop // 2]
        assert around.pow(2).mean().sqrt() > 0.1 * rms  # no gap
        # No click: no sample step at the join beyond what the take's own audio has in 1 of 1000.
        assert diff[join - 8: join + 8].max() <= torch.quantile(diff, 0.999)
