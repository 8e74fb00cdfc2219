"""The running order: a smooth journey through keys, tempos and energy.

The cost of playing b after a is the Camelot distance of their keys plus the tempo jump in
steps of 10 % (so 120 -> 132 bpm weighs like one step round the wheel). On top, the opener
should be among the most energetic tracks and the closer among the calmest. Up to
EXACT_MAX tracks the order is the exact optimum (Held-Karp dynamic programming over
subsets); past that, 2-opt moves from the listed order, so flow is never worse than it.
"""
from __future__ import annotations

import math
from itertools import combinations

from albumgen.audio.music import camelot, key_distance, tempo_jump

TEMPO_STEP = math.log2(1.1)  # a 10 % tempo change costs as much as one Camelot step
EDGE_WEIGHT = 2.0  # cost of opening with the calmest track, or closing with the most energetic
EXACT_MAX = 11  # 2^11 * 11^2 steps: well under a second


def step_cost(a: dict, b: dict) -> float:
    """Key distance plus tempo jump between consecutive tracks a and b."""
    return key_distance(a["key"], b["key"]) + tempo_jump(a.get("bpm"), b.get("bpm")) / TEMPO_STEP


def path_cost(tracks: list[dict], order: list[int]) -> float:
    return sum(step_cost(tracks[i], tracks[j]) for i, j in zip(order, order[1:]))


def _edges(tracks: list[dict]) -> tuple[list[float], list[float]]:
    """Per track: the cost of opening with it, and of closing with it (energy ranks)."""
    n = len(tracks)
    if n < 3:
        return [0.0] * n, [0.0] * n
    by_energy = sorted(range(n), key=lambda i: (-tracks[i]["energy"], i))
    rank = {i: r / (n - 1) for r, i in enumerate(by_energy)}  # 0 the most energetic
    return [EDGE_WEIGHT * rank[i] for i in range(n)], [EDGE_WEIGHT * (1 - rank[i]) for i in range(n)]


def total_cost(tracks: list[dict], order: list[int]) -> float:
    opens, closes = _edges(tracks)
    return path_cost(tracks, order) + opens[order[0]] + closes[order[-1]]


def flow(tracks: list[dict]) -> list[int]:
    """Indices of `tracks` (dicts with key, bpm, energy) in the order to play them."""
    n = len(tracks)
    if n < 2:
        return list(range(n))
    return _exact(tracks) if n <= EXACT_MAX else _two_opt(tracks, list(range(n)))


def _exact(tracks: list[dict]) -> list[int]:
    n = len(tracks)
    opens, closes = _edges(tracks)
    step = [[step_cost(a, b) for b in tracks] for a in tracks]
    inf = float("inf")
    best = [[inf] * n for _ in range(1 << n)]
    back = [[-1] * n for _ in range(1 << n)]
    for j in range(n):
        best[1 << j][j] = opens[j]
    for mask in range(1, 1 << n):
        row = best[mask]
        for j in range(n):
            cost = row[j]
            if cost == inf:
                continue
            for k in range(n):
                if mask & (1 << k):
                    continue
                nxt, c = mask | (1 << k), cost + step[j][k]
                if c < best[nxt][k] - 1e-9:  # strict: ties keep the earlier-listed path
                    best[nxt][k], back[nxt][k] = c, j
    full = (1 << n) - 1
    last = min(range(n), key=lambda j: (best[full][j] + closes[j], j))
    order, mask = [], full
    while last != -1:
        order.append(last)
        prev = back[mask][last]
        mask ^= 1 << last
        last = prev
    return order[::-1]


def _two_opt(tracks: list[dict], order: list[int]) -> list[int]:
    cost = total_cost(tracks, order)
    improved = True
    while improved:
        improved = False
        for i, j in combinations(range(len(order)), 2):
            cand = order[:i] + order[i:j + 1][::-1] + order[j + 1:]
            c = total_cost(tracks, cand)
            if c < cost - 1e-9:
                order, cost, improved = cand, c, True
    return order


def reasons(tracks: list[dict], order: list[int], titles: list[str], mode: str) -> list[str]:
    """Why each track sits where it does, in play order, in words."""
    if mode == "as_listed":
        return ["as listed (album.order: as_listed)"] * len(order)
    n = len(order)
    by_energy = sorted(range(len(tracks)), key=lambda i: -tracks[i]["energy"])
    out = []
    for pos, i in enumerate(order):
        t = tracks[i]
        parts = []
        if pos == 0 and n > 2:
            parts.append(f"opener: energy {t['energy']:.2f}, {by_energy.index(i) + 1} of {n} by energy")
        if pos > 0:
            p = tracks[order[pos - 1]]
            d = key_distance(p["key"], t["key"])
            rel = "same key" if d == 0 else "Camelot neighbours" if d == 1 else f"{d} steps round the wheel"
            parts.append(f"after {titles[order[pos - 1]]!r}: {p['key']} ({camelot(p['key'])}) to {t['key']} "
                         f"({camelot(t['key'])}), {rel}; {_bpm(p)} to {_bpm(t)}")
        if pos == n - 1 and n > 2:
            parts.append(f"closer: energy {t['energy']:.2f}, {n - by_energy.index(i)} of {n} from the calmest")
        out.append("; ".join(parts) if parts else "the only track")
    return out


def _bpm(t: dict) -> str:
    return f"{t['bpm']:.0f} bpm" if t.get("bpm") else "no steady beat"
