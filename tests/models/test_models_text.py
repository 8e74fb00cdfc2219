"""The text path, on a tiny model that listens to its prompt.

The `tiny` preset's random cross-attention barely moves its logits: greedy tokens with
CFG 1 and CFG 3 agree on ~95% of positions, and two unrelated prompts on ~94%, so a
broken text path (padding not masked, guidance off, the prompt dropped) can leave its
tokens unchanged. Its self-attention barely counts either (removed, 95% of greedy tokens
stay), which would hide a continuation window whose prompt is cached at the wrong
positions. `listening` is the same model, built in code here (nothing saved), with every
cross-attention projection scaled by 6 and self-attention's q/k by 2 and v/out by 4: CFG
1 vs 3 then agree on ~44% of tokens, two prompts on 0-31%, and without self-attention 68%
stay. So any of those breakages changes the tokens, and the comparisons below with
transformers' own `generate` catch it.
"""
from __future__ import annotations

import pytest
import torch
from helpers import hf_generate_codes

from albumgen.models.fast import FastLoop
from albumgen.models.musicgen import load_musicgen
from albumgen.models.sampling import Sampling
from albumgen.models.windows import Windows, generate_long

SHORT = "calm piano"  # 11 tokens: one 32-token text bucket alone
LONG = "a much longer prompt about drums, bass and a slow organ"  # 56 tokens: two buckets
PROMPTS = [SHORT, LONG]
SEEDS = [11, 2**62 + 5]
GREEDY = Sampling(greedy=True)
CROSS, SELF_QK, SELF_VO = 6.0, 2.0, 4.0


def make_listening():
    lm = load_musicgen("tiny", "cpu")
    with torch.no_grad():
        for layer in lm.model.decoder.model.decoder.layers:
            cross, own = layer.encoder_attn, layer.self_attn
            for proj in (cross.q_proj, cross.k_proj, cross.v_proj, cross.out_proj):
                proj.weight.mul_(CROSS)
            for proj, scale in ((own.q_proj, SELF_QK), (own.k_proj, SELF_QK), (own.v_proj, SELF_VO),
                                (own.out_proj, SELF_VO)):
                proj.weight.mul_(scale)
    return lm


@pytest.fixture(scope="module")
def listening():
    return make_listening()


@pytest.fixture(scope="module")
def loop(listening):
    return FastLoop(listening, bucket=8)  # small buckets: a 50-frame window crosses seven


def hf_greedy(lm, prompts: list[str], frames: int, prompt_codes: torch.Tensor | None = None) -> torch.Tensor:
    """transformers' generate, greedy with CFG 3, its tokens caught on their way to EnCodec.
    With prompt_codes (batch, codebooks, P) it continues them, as an audio prompt does."""
    k, kwargs = lm.num_codebooks, {}
    new = frames + k - 1
    if prompt_codes is not None:  # (batch*codebooks, 1 + P), undelayed, after the start token
        start = torch.full((len(prompts), k, 1), lm.model.generation_config.decoder_start_token_id)
        kwargs["decoder_input_ids"] = torch.cat([start, prompt_codes], -1).reshape(len(prompts) * k, -1)
        new -= prompt_codes.shape[-1]
    return hf_generate_codes(lm, prompts, new, **kwargs)[0]


def agreement(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a == b).float().mean().item()


def test_the_test_model_listens_to_its_prompt(loop):
    cfg3 = loop.generate(PROMPTS, SEEDS, 40, GREEDY)
    cfg1 = loop.generate(PROMPTS, SEEDS, 40, Sampling(greedy=True, cfg=1.0))
    assert agreement(cfg1, cfg3) < 0.6  # guidance changes most tokens
    assert agreement(cfg3[0], cfg3[1]) < 0.5  # and so does the prompt


@pytest.mark.parametrize("bucket", [8, 64])
def test_greedy_equals_transformers_across_cache_buckets(listening, bucket):
    """100 frames: 104 positions, past the CPU default bucket of 64 and across thirteen of 8."""
    want = hf_greedy(listening, PROMPTS, 100)
    got = FastLoop(listening, bucket=bucket).generate(PROMPTS, SEEDS, 100, GREEDY)
    assert torch.equal(got, want)


def test_greedy_equals_transformers_in_continuation_windows(listening, loop):
    """A 90-frame take in 50-frame windows with a 30-frame stride: windows at 0, 30, 60;
    each window after the first is transformers' generate continuing the last 20 frames."""
    windows = Windows(max_frames=50, stride_frames=30)
    assert windows.plan(90) == [(0, 50), (30, 50), (60, 30)]
    want = hf_greedy(listening, PROMPTS, 50)
    for start, n in windows.plan(90)[1:]:
        prompt = want[..., start:]
        window = hf_greedy(listening, PROMPTS, n, prompt)
        assert torch.equal(window[..., :prompt.shape[-1]], prompt)  # generate keeps the prompt as is
        want = torch.cat([want, window[..., prompt.shape[-1]:]], dim=-1)
    assert torch.equal(loop.generate(PROMPTS, SEEDS, 50, GREEDY, prompt_codes=want[..., 30:50], frame_offset=30),
                       want[..., 30:80])
    assert torch.equal(generate_long(loop, PROMPTS, SEEDS, 90, GREEDY, windows), want)


@pytest.mark.parametrize("model", ["tiny", "listening"])
@pytest.mark.parametrize("sampling", [Sampling(top_k=20), GREEDY], ids=["top_k", "greedy"])
def test_a_short_prompt_renders_the_same_alone_and_beside_a_longer_one(listening, model, sampling):
    """Beside a longer prompt the short one's text is padded (two buckets, not one): its
    tokens must not change, whatever it is batched with and in which row."""
    lm = listening if model == "listening" else load_musicgen("tiny", "cpu")
    loop = FastLoop(lm)
    alone = loop.generate([SHORT], SEEDS[:1], 40, sampling)
    after = loop.generate([LONG, SHORT, "strings"], [SEEDS[1], SEEDS[0], 7], 40, sampling)
    before = loop.generate([SHORT, LONG], SEEDS, 40, sampling)
    assert torch.equal(after[1], alone[0]) and torch.equal(before[0], alone[0])
