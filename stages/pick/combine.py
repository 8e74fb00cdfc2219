"""From features to a choice: checks first (hard ones reject), then robust z-scores of
each feature within one track's takes, weighted from config.

Z-scores are within the takes being compared, because what matters is which take of
this prompt is best, and a prompt for sparse ambient music must not lose to one for
drum and bass on rhythm alone.
"""
from __future__ import annotations

import math

import numpy as np

from .config import PickConfig

# feature -> (direction: +1 when more is better, smallest spread that counts as a real
# difference). The floor keeps near-identical takes from being ranked on noise: with a
# median absolute deviation of ~0 every tiny difference would be dozens of z.
SCORED = {
    "flatness_db": (-1, 3.0),
    "tonal_share": (+1, 0.03),
    "silence": (-1, 0.05),
    "trailing_silence": (-1, 0.05),
    "clipping": (-1, 0.005),
    "harsh": (-1, 0.01),
    "repetition": (-1, 0.1),
    "novelty_db": (+1, 1.0),
    "pulse_clarity": (+1, 0.1),
    "tempo_drift": (-1, 0.01),
    "end_decay": (+1, 0.05),
    "dull_db": (-1, 3.0),
    "dropouts": (-1, 0.5),
    "stuck_s": (-1, 0.5),
    "hum_db": (-1, 6.0),
    "jump": (-1, 0.1),
    "seam": (-1, 0.5),  # a prominence of a few dB is no peak: ranking on it would be noise
    "tempo_match": (+1, 0.1),
    "key_match": (+1, 0.25),
    "clap": (+1, 0.02),
    "aesthetics": (+1, 0.2),
}
Z_CLIP = 3.0  # one wild feature must not outvote all the others
# A take's score is its quality (the weighted mean of its z-scores, within +-Z_CLIP) less
# this per hard check it fails: more than the whole range of quality, so a rejected take
# always shows a lower score than every take that passed, and one failing two checks
# lower than one failing one. The score is the order the picker prefers takes in.
REJECT_STEP = 10.0


def checks(f: dict[str, float], cfg: PickConfig) -> list[dict]:
    """Every check the take trips, as {check, hard, message}."""
    out = []

    def trip(name: str, message: str) -> None:
        out.append({"check": name, "hard": name in cfg.hard_checks, "message": f"{name}: {message}"})

    # A mostly silent take has no spectrum or rhythm worth judging: "silence" says why.
    silent = f["silence"] > cfg.max_silence
    if silent:
        trip("silence", f"silent {f['silence']:.0%} of the time")
    elif f["trailing_silence"] > cfg.max_trailing_silence:
        trip("silence", f"ends in silence for the last {f['trailing_silence']:.0%}")
    noise_like = not silent and (f["flatness_db"] > cfg.max_flatness_db or f["tonal_share"] < cfg.min_tonal_share)
    if noise_like:
        trip("noise", f"noise-like (spectral floor {f['flatness_db']:.1f} dB under the mean, "
                      f"{f['tonal_share']:.0%} of energy in tonal peaks)")
    elif not silent and f["flatness_db"] > cfg.noisy_flatness_db:
        trip("noisy", f"audible noise under the music (spectral floor {f['flatness_db']:.1f} dB)")
    if f["clipping"] > cfg.max_clipping:
        trip("clipping", f"audible clipping {f['clipping']:.1%} of the time")
    if f["harsh"] > cfg.max_harsh:
        trip("harsh", f"harsh high-frequency screech {f['harsh']:.1%} of the time")
    if f["repetition"] > cfg.max_repetition:
        trip("loop", f"stuck in a loop (repetition {f['repetition']:.2f})")
    # Noise barely moves either; calling it a drone too would only blur the reason.
    if f["novelty_db"] < cfg.min_novelty_db and not noise_like and not silent:
        trip("drone", f"static: the spectrum moves {f['novelty_db']:.1f} dB")
    if f["end_decay"] < cfg.min_end_decay:
        trip("abrupt_end", f"stops dead ({f['end_decay'] * 1000:.0f} ms to silence)")
    if f.get("dull_db", 0.0) > cfg.max_dull_db:
        trip("dull", f"muffled: its 4-11 kHz band sits {f['dull_db']:.0f} dB under the other takes'")
    if f.get("dropouts", 0) > cfg.max_dropouts:
        trip("dropout", f"{f['dropouts']:.0f} dropout(s): the sound falls away for a moment mid-take")
    if f.get("stuck_s", 0.0) > cfg.max_stuck_s:
        trip("stuck", f"stuck on one short segment for {f['stuck_s']:.1f} s")
    if f.get("hum_db", 0.0) > cfg.max_hum_db and not silent:
        trip("hum", f"mains hum at {f.get('hum_hz', 0):.0f} Hz ({f['hum_db']:.0f} dB over its neighbourhood)")
    if f.get("jump", 0.0) > cfg.max_jump and not silent:
        trip("jump", f"jumps into unrelated material at {f.get('jump_at', 0):.1f} s (contrast {f['jump']:.2f})")
    if f.get("seam", 0.0) > cfg.max_seam:
        trip("seam", f"a cut at a window join ({f.get('seam_db', 0):.0f} dB), sharper than the rest of the take")
    if "tempo_error" in f and f["tempo_error"] > math.log2(1 + cfg.max_tempo_error):
        off = "no steady beat" if f["tempo_error"] >= 1.0 else f"{2 ** f['tempo_error'] - 1:.0%} off"
        trip("tempo_mismatch", f"the prompt asks {f['asked_bpm']:.0f} bpm; the take is {off}")
    if f.get("key_distance", 0) > cfg.max_key_distance:
        trip("key_mismatch", f"{f['key_distance']:.0f} steps round the Camelot wheel from the asked key")
    if not silent and f["pulse_clarity"] < cfg.min_pulse_clarity:
        trip("rhythm", f"no steady pulse (clarity {f['pulse_clarity']:.2f})")
    elif not silent and f["tempo_drift"] > cfg.max_tempo_drift:
        trip("tempo", f"tempo drifts {f['tempo_drift']:.1%}")
    return out


def robust_z(values: np.ndarray, floor: float) -> np.ndarray:
    med = np.median(values)
    scale = max(1.4826 * float(np.median(np.abs(values - med))), floor)
    return np.clip((values - med) / scale, -Z_CLIP, Z_CLIP)


def with_group(feats: list[dict[str, float]]) -> list[dict[str, float]]:
    """Each take's features plus those that only mean something against the other takes:
    dull_db, how far its high band (hf_db) sits under the median of the others' (0 when
    it does not, and for a lone take). A bass solo whose takes are all dark is not dull;
    the one take of a bright prompt that came out muffled is."""
    out = []
    for i, f in enumerate(feats):
        g = dict(f)
        others = [o["hf_db"] for j, o in enumerate(feats) if j != i and "hf_db" in o]
        if "hf_db" in f:
            g["dull_db"] = round(max(0.0, float(np.median(others)) - f["hf_db"]), 5) if others else 0.0
        out.append(g)
    return out


def combine(feats: list[dict[str, float]], cfg: PickConfig) -> list[dict]:
    """Per take: checks, rejects, z-scores and the weighted score (higher is better)."""
    feats = with_group(feats)
    weights = cfg.weights.model_dump()
    z = {}
    for name, (direction, floor) in SCORED.items():
        if weights[name] > 0 and all(name in f for f in feats):
            z[name] = direction * robust_z(np.array([f[name] for f in feats], dtype=np.float64), floor)
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
