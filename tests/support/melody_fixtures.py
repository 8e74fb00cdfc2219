"""Melodies and transformers' greedy reference for the melody tests, on CPU and on CUDA.

Its own module, importing no more than torch, numpy and the model code: the CUDA tests use
it on a machine that has neither soundfile nor an installed albumgen (its stages)."""
from __future__ import annotations

import numpy as np
import torch
from helpers import hf_generate_codes

from albumgen.models.melody import chroma

SR = 32000


def tone(freq: float, seconds: float = 2.0) -> torch.Tensor:
    t = np.arange(int(seconds * SR)) / SR
    return torch.from_numpy((0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32))[None]


# Two melodies: A4, then E4 going up to G4. Not a held C: its chroma (pitch class 0 in every
# frame) is exactly transformers' "no melody" stand-in.
A, C = tone(440), torch.cat([tone(330, 1.0), tone(392, 1.0)], dim=1)


def hf_greedy_codes(lm, prompt: str, melody, frames: int) -> torch.Tensor:
    """transformers' own generate for one prompt (greedy, CFG 3), the melody's chroma as its
    input_features; its tokens caught on their way to EnCodec."""
    features = {} if melody is None else {"input_features": chroma(melody, lm.chroma)[None].to(lm.device)}
    seen = hf_generate_codes(lm, [prompt], frames + lm.num_codebooks // lm.channels - 1, **features)
    if lm.channels == 1:
        return seen[0][0]
    out = torch.empty(lm.num_codebooks, frames, dtype=torch.long, device=seen[0].device)
    out[0::2], out[1::2] = seen[0][0], seen[1][0]  # generate decodes left (even) and right (odd) apart
    return out
