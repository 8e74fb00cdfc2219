"""The readable reference loop for MusicGen's tokens: transformers' own modules, one step
at a time, each take's noise from its seed (albumgen.models.noise). The tests hold the fast
loop (albumgen.models.fast) to exactly these tokens; the product ships only the fast loop.

Why not transformers' `model.generate`: it returns audio only (the tokens are dropped), and
its sampling draws from one global RNG, so a take's tokens would depend on which other
takes share its batch.
"""
from __future__ import annotations

import torch

from albumgen.models import noise
from albumgen.models.melody import chroma, null_chroma, prefix_states
from albumgen.models.musicgen import encode_text, undelay
from albumgen.models.sampling import Sampling, filter_logits


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
