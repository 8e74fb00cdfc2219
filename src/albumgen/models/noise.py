"""Per-take Gumbel noise from a counter-based hash: noise = f(take seed, step, codebook, token).

Why a hash and not torch.Generator: a generator's stream depends on how many numbers were
drawn before, so a take's noise would depend on the batch it shares; one generator per take
means a host loop per step, which a CUDA graph cannot hold. A pure function of integers is
the same in any batch layout, on any device, and is a handful of elementwise int64 kernels
that a graph captures, or that run once for many steps (negated_gumbel_steps) with the same
numbers.

All arithmetic stays below 2**63: 32-bit values are multiplied by 16-bit halves of the
constants, so nothing relies on signed overflow (undefined in C++, where torch's kernels live).
"""
from __future__ import annotations

import torch

M32 = 0xFFFFFFFF
_C1, _C2 = 0x7FEB352D, 0x846CA68B  # "lowbias32" (C. Wellons): a well-tested 32-bit mixer
_GOLDEN = 0x9E3779B9
_EXP_M24 = torch.tensor(2.0 ** -24, dtype=torch.float32)  # a float32 0-dim tensor: the product's dtype


def _mul32(x: torch.Tensor | int, c: int):
    """(x * c) mod 2**32 for 0 <= x < 2**32 without leaving int64: x times c's low half, plus
    x's low half times c's high half in place (x's high half times it only sets bits past 32).
    Both products stay below 2**48. On tensors the second product is add's alpha: four
    kernels, not five."""
    if isinstance(x, torch.Tensor):
        return torch.add(x * (c & 0xFFFF), x & 0xFFFF, alpha=c & 0xFFFF0000) & M32
    return (x * (c & 0xFFFF) + (x & 0xFFFF) * (c & 0xFFFF0000)) & M32


def mix32(x):
    x = x ^ (x >> 16)
    x = _mul32(x, _C1)
    x = x ^ (x >> 15)
    x = _mul32(x, _C2)
    return x ^ (x >> 16)


def take_keys(seeds: list[int], device) -> torch.Tensor:
    """(takes, 2) int64 keys, one pair per take seed (a 63-bit int)."""
    keys = []
    for s in seeds:
        s = int(s)
        a = mix32((s & M32) ^ mix32((s >> 32) & M32))
        keys.append((a, mix32((a + _GOLDEN) & M32)))
    return torch.tensor(keys, dtype=torch.int64, device=device)


def token_counters(codebooks: int, vocab: int, device) -> torch.Tensor:
    """(codebooks, vocab) int64: the per-step part of the counter, built once."""
    return torch.arange(codebooks * vocab, dtype=torch.int64, device=device).view(codebooks, vocab)


def gumbel(keys: torch.Tensor, step, counters: torch.Tensor) -> torch.Tensor:
    """(takes, codebooks, vocab) float32 Gumbel noise for absolute decoding step `step`
    (an int or a 0-dim int64 tensor, so a captured graph can advance it in place)."""
    return -negated_gumbel(keys, step, counters)


def negated_gumbel(keys: torch.Tensor, step, counters: torch.Tensor) -> torch.Tensor:
    """-gumbel(...), one kernel fewer: logits - this is exactly logits + gumbel(...)."""
    k, v = counters.shape
    c = torch.add(counters, step, alpha=k * v) & M32  # unique per (step, codebook, token) for 262k steps at 8x2048
    return _negated_gumbel(c[None], keys[:, 0, None, None], keys[:, 1, None, None])


def negated_gumbel_steps(keys: torch.Tensor, steps: torch.Tensor, counters: torch.Tensor) -> torch.Tensor:
    """(takes, len(steps), codebooks, vocab): negated_gumbel for each step of `steps` (an int64
    tensor) at once, the same numbers element for element (the same elementwise ops)."""
    k, v = counters.shape
    c = torch.add(counters, steps[:, None, None], alpha=k * v) & M32
    return _negated_gumbel(c[None], keys[:, 0, None, None, None], keys[:, 1, None, None, None])


def _negated_gumbel(c: torch.Tensor, key0: torch.Tensor, key1: torch.Tensor) -> torch.Tensor:
    h = mix32(c ^ key0)
    h = mix32(h ^ key1)
    # (the top 23 bits + 0.5) / 2**23, written (the top 24 bits with the last set) / 2**24: exact
    # in float32 (the int64 * float32 scalar product is computed in float32), so u is strictly
    # inside (0, 1) and log never sees 0 or 1.
    u = ((h >> 8) | 1) * _EXP_M24  # a CPU scalar: any device's kernel takes it as an argument
    return torch.log(-torch.log(u))
