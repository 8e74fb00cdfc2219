"""Token generation for MusicGen: a plain, portable decoding loop over transformers' modules.

Why not `model.generate`: it returns audio only (the tokens are dropped), and its sampling
draws from one global RNG, so a take's tokens depend on which other takes share its batch.
Here every take's noise is a pure function of its seed (noise.py), so the same take renders
the same whatever the batch layout, and its tokens are kept so its audio can be decoded again.

This loop is the readable specification; fast.py is the one the render stage runs, and the
tests hold the two to the same tokens.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from . import noise


@dataclass
class Sampling:
    top_k: int = 250
    top_p: float = 0.0
    temperature: float = 1.0
    cfg: float = 3.0
    greedy: bool = False


def encode_text(lm, prompts: list[str], cfg: float):
    """Encoder states for the decoder's cross-attention, with the unconditional half appended
    when guidance is on (exactly as transformers' generate builds them)."""
    model = lm.model
    ids, mask = lm.tokenize(prompts)
    h = model.text_encoder(input_ids=ids, attention_mask=mask).last_hidden_state
    if cfg > 1:
        h = torch.cat([h, torch.zeros_like(h)], dim=0)
        mask = torch.cat([mask, torch.zeros_like(mask)], dim=0)
    # MusicgenMelody's decoder config has no cross_attention_hidden_size: it always projects.
    if model.text_encoder.config.hidden_size != model.decoder.config.hidden_size and \
            getattr(model.decoder.config, "cross_attention_hidden_size", None) is None:
        h = model.enc_to_dec_proj(h)
    h = h * mask[..., None].to(h.dtype)
    return h, mask


def filter_logits(logits: torch.Tensor, s: Sampling) -> torch.Tensor:
    """Temperature, then top-k, then top-p: the order transformers applies its warpers in."""
    logits = logits / s.temperature
    if s.top_k and s.top_k < logits.shape[-1]:
        kth = torch.topk(logits, s.top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if s.top_p and s.top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=False, dim=-1)
        cum = sorted_logits.softmax(-1).cumsum(-1)
        remove_sorted = cum <= (1 - s.top_p)
        remove_sorted[..., -1:] = False
        remove = remove_sorted.scatter(-1, order, remove_sorted)
        logits = logits.masked_fill(remove, float("-inf"))
    return logits


def generate_codes(lm, prompts: list[str], seeds: list[int], frames: int, sampling: Sampling,
                   on_step=None, melodies: list | None = None) -> torch.Tensor:
    """Tokens (batch, codebooks, frames) for each prompt, delay pattern removed.

    Melody checkpoints: `melodies` holds one mono waveform or None per take, and the chroma +
    text prefix enters the decoder on the first step, as transformers' `generate` does; like
    it, every text position is attended, padding included, so give this loop prompts of one
    token length (fast.py masks the padding and is batch-independent)."""
    model = lm.model
    dec = model.decoder
    pad = model.generation_config.pad_token_id if model.generation_config.pad_token_id is not None \
        else dec.config.pad_token_id
    b, k = len(prompts), lm.num_codebooks
    kc = k // lm.channels
    steps = frames + kc - 1
    use_cfg = sampling.cfg > 1
    with torch.no_grad():
        h, mask = encode_text(lm, prompts, sampling.cfg)
        melody = model.config.model_type == "musicgen_melody"
        if melody:
            from .melody import chroma, null_chroma, prefix_states

            chromas = [null_chroma(lm.chroma) if m is None else chroma(m, lm.chroma) for m in melodies or [None] * b]
            h, mask = prefix_states(model, chromas, h, use_cfg), None
        seq = torch.full((b * k, 1), pad, dtype=torch.long, device=lm.device)
        seq, pattern = dec.build_delay_pattern_mask(seq, pad, max_length=steps + 1)
        cache = keys = counters = None
        for step in range(steps):
            inp = dec.apply_delay_pattern_mask(seq, pattern)
            x = inp if cache is None else inp[:, -1:]
            if use_cfg:
                x = x.repeat(2, 1)
            if melody:  # the prefix enters once; the cache holds it from then on
                out = dec(input_ids=x, encoder_hidden_states=h if cache is None else None, cache=cache, use_cache=True)
            else:
                out = dec(input_ids=x, encoder_hidden_states=h, encoder_attention_mask=mask, cache=cache,
                          use_cache=True)
            cache = out.cache if hasattr(out, "cache") else out.past_key_values
            logits = out.logits[:, -1, :].float()
            if use_cfg:
                cond, uncond = logits.split(b * k, dim=0)
                logits = uncond + (cond - uncond) * sampling.cfg
            if sampling.greedy:
                nxt = logits.argmax(-1)
            else:
                logits = filter_logits(logits, sampling)
                if keys is None:
                    keys = noise.take_keys(seeds, logits.device)
                    counters = noise.token_counters(k, logits.shape[-1], logits.device)
                g = noise.gumbel(keys, step, counters).reshape(b * k, -1)
                nxt = (logits + g).argmax(-1)
            seq = torch.cat([seq, nxt[:, None]], dim=1)
            if on_step is not None:
                on_step(step + 1, steps)
        seq = dec.apply_delay_pattern_mask(seq, pattern)
    return undelay(seq, k, lm.channels, frames)


def undelay(seq: torch.Tensor, num_codebooks: int, channels: int, frames: int) -> torch.Tensor:
    """(batch*codebooks, 1+steps) in the delay pattern -> (batch, codebooks, frames)."""
    seq = seq.reshape(-1, num_codebooks, seq.shape[-1])
    rows = []
    for k in range(num_codebooks):
        delay = k // 2 if channels == 2 else k  # stereo interleaves L/R codebooks with equal delays
        rows.append(seq[:, k, 1 + delay: 1 + delay + frames])
    return torch.stack(rows, dim=1)
