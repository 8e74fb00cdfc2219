"""How a take's next token is drawn: the sampling settings (top-k, top-p, temperature,
classifier-free guidance) and the logit filter both MusicGen backends apply before each
take's own noise (noise.py) picks the token."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Sampling:
    top_k: int = 250
    top_p: float = 0.0
    temperature: float = 1.0
    cfg: float = 3.0
    greedy: bool = False


def filter_logits(logits: torch.Tensor, s: Sampling) -> torch.Tensor:
    """Temperature, then top-k, then top-p: the order transformers applies its warpers in."""
    if s.temperature != 1.0:  # x / 1.0 is x: one kernel fewer per step
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
