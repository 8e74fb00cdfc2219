"""From features to a choice: checks first (hard ones reject), then robust z-scores of
each feature within one track's takes, weighted from config.

Z-scores are within the takes being compared, because what matters is which take of
this prompt is best, and a prompt for sparse ambient music must not lose to one for
drum and bass on rhythm alone.
"""
from __future__ import annotations

import numpy as np

from .checks import CHECKS, SCORED
from .config import PickConfig

Z_CLIP = 3.0  # one wild feature must not outvote all the others
# A take's score is its quality (the weighted mean of its z-scores, within +-Z_CLIP) less
# this per hard check it fails: more than the whole range of quality, so a rejected take
# always shows a lower score than every take that passed, and one failing two checks
# lower than one failing one. The score is the order the picker prefers takes in.
REJECT_STEP = 10.0


def checks(f: dict[str, float], cfg: PickConfig) -> list[dict]:
    """Every check the take trips, as {check, hard, message}, in the declared order."""
    out = []
    for check in CHECKS:
        said = check.test(f, cfg)
        if said:
            out.append({"check": check.name, "hard": check.name in cfg.hard_checks, "message": f"{check.name}: {said}"})
    return out


def robust_z(values: np.ndarray, floor: float) -> np.ndarray:
    med = np.median(values)
    scale = max(1.4826 * float(np.median(np.abs(values - med))), floor)
    return np.clip((values - med) / scale, -Z_CLIP, Z_CLIP)


def with_group(feats: list[dict[str, float]], cfg: PickConfig | None = None) -> list[dict[str, float]]:
    """Each take's features plus those that only mean something against the other takes
    or the config: dull_db, how far its high band (hf_db) sits under the median of the
    others' (0 when it does not, and for a lone take). A bass solo whose takes are all
    dark is not dull; the one take of a bright prompt that came out muffled is. hiss: how
    far its hiss floor (hiss_db) stands over pick.noisy_hiss_db, the floor the noisy label
    starts at (0 under it), so the score and the label agree on what hiss is."""
    limit = (cfg or PickConfig()).noisy_hiss_db
    out = []
    for i, f in enumerate(feats):
        g = dict(f)
        others = [o["hf_db"] for j, o in enumerate(feats) if j != i and "hf_db" in o]
        if "hf_db" in f:
            g["dull_db"] = round(max(0.0, float(np.median(others)) - f["hf_db"]), 5) if others else 0.0
        if "hiss_db" in f:
            g["hiss"] = round(max(0.0, f["hiss_db"] - limit), 5)
        out.append(g)
    return out


def combine(feats: list[dict[str, float]], cfg: PickConfig) -> list[dict]:
    """Per take: checks, rejects, z-scores and the weighted score (higher is better)."""
    feats = with_group(feats, cfg)
    weights = cfg.weights.model_dump()
    z = {}
    for name, s in SCORED.items():
        if weights[name] > 0 and all(name in f for f in feats):
            z[name] = s.direction * robust_z(np.array([f[name] for f in feats], dtype=np.float64), s.floor)
    total = sum(weights[n] for n in z) or 1.0
    out = []
    for i, f in enumerate(feats):
        found = checks(f, cfg)
        zs = {n: round(float(v[i]), 4) for n, v in z.items()}
        rejects = [c["message"] for c in found if c["hard"]]
        quality = round(sum(weights[n] * zs[n] for n in zs) / total, 4)
        out.append({"checks": found, "rejects": rejects, "warnings": [c["message"] for c in found if not c["hard"]],
                    "z": zs, "quality": quality, "score": round(quality - REJECT_STEP * len(rejects), 4)})
    return out


def choose(scored: list[dict]) -> int:
    """Index of the take to keep: the highest score, which puts the best take that passed
    every hard check first, else the least bad (fewest hard failures, then quality). Ties
    go to the earlier take, so identical takes give the same choice in every run."""
    return min(range(len(scored)), key=lambda i: (-scored[i]["score"], i))
