"""How well the picker hears what generated music gets wrong, and how seldom it rejects what
is fine, over many random synthesised takes (tests/take_fixtures.py: six styles, random
keys, tempi and timbres), each failure drawn with random parameters.

Per failure family: how often its check trips on the damaged take (scored beside the
clean take, as a track's takes are), how often the clean take outscores the damaged one,
and how often a rejected damaged take shows a higher score than its accepted clean twin
(it never should). Then false alarms: clean takes scored in groups of four of one style,
and commercially loud masters of the same takes (limited to -8 LUFS, about 1% of samples
at full scale, bright cymbals), per check, and vamps (tests/loop_fixtures.py: a 1-4 bar
pattern played all through, with a player's small differences), which must not be loops,
and breakdowns (a band's or an electronic piece's drums stop at 40% of the take, ringing
out, while its tempo and chords go on), which are not jumps.

Thresholds were tuned on the first seeds; pass --first-seed 1000 for takes no threshold
saw. To compare with another version of the picker, run this same file with that
version's interpreter (its `albumgen` is what gets imported):

    .venv/bin/python bench/pick_failures.py [--takes 24] [--seconds 24] [--first-seed 0] [--verbose]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import signal

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

import loop_fixtures as L  # noqa: E402
import take_fixtures as T  # noqa: E402

from albumgen.stages.pick.combine import combine  # noqa: E402
from albumgen.stages.pick.config import PickConfig  # noqa: E402
from albumgen.stages.pick.features import features  # noqa: E402

# family -> the check it must trip
FAMILIES = {"clipping": "clipping", "harsh": "harsh", "loop": "loop", "stuck_loop": "loop", "dull": "dull",
            "dropout": "dropout", "hiss": "noisy",
            "stuck": "stuck", "hum": "hum", "jump": "jump", "jump_same": "jump", "seam": "seam"}
CFG = PickConfig()


def screech(x: np.ndarray, rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Two or three 0.3-0.6 s screeches at 5-9 kHz as loud as the music (MusicGen's harsh bursts)."""
    y = x.copy()
    rms = np.sqrt(np.mean(x ** 2))
    for _ in range(int(rng.integers(2, 4))):
        t = np.arange(int(rng.uniform(0.3, 0.6) * T.SR)) / T.SR
        f0 = rng.uniform(5000, 9000)
        s = sum(np.sin(2 * np.pi * f * t + 3 * np.sin(2 * np.pi * 7 * t)) for f in (f0, f0 * 1.19))
        s *= rms * 2.0 / np.sqrt(np.mean(s ** 2)) * np.minimum(1.0, t / 0.005)
        at = int(rng.uniform(0.1, 0.85) * seconds * T.SR)
        y[at: at + len(s)] += s[: len(y) - at]
    return y


def damage(name: str, x: np.ndarray, seed: int, seconds: float, joins: list[float], style: str) -> np.ndarray:
    rng = np.random.default_rng(seed + 7919)
    if name == "clipping":
        return T.hard_clip(x, rng.uniform(9.0, 15.0))
    if name == "harsh":
        return screech(x, rng, seconds)
    if name == "loop":  # a 4 s stretch of the take, looped to its length
        seg = x[: int(4 * T.SR)]
        return np.tile(seg, int(np.ceil(len(x) / len(seg))))[: len(x)]
    if name == "stuck_loop":  # from 30-60% on, a 0.75-3 s chunk copied to the end
        return L.stuck_loop(x, seed)
    if name == "hiss":  # white noise 12-20 dB under the music, all through
        n = rng.standard_normal(len(x))
        return x + n * np.sqrt(np.mean(x ** 2) / np.mean(n ** 2) / 10 ** (rng.uniform(12.0, 20.0) / 10))
    if name == "dull":
        cutoff = rng.uniform(2000, 3500)
        if rng.random() < 0.5:
            return T.dull(x, cutoff=cutoff)
        y = signal.sosfilt(signal.butter(4, cutoff, fs=T.SR, output="sos"), x)  # a gentler slope
        return y * np.sqrt(np.mean(x ** 2) / np.mean(y ** 2))
    if name == "dropout":
        depth = None if rng.random() < 0.7 else rng.uniform(42, 60)
        return T.dropouts(x, seed=seed, count=int(rng.integers(1, 5)), seconds=rng.uniform(0.15, 0.8), depth_db=depth)
    if name == "stuck":
        return T.stuck(x, seed=seed, segment=rng.uniform(0.1, 0.5), repeats=int(rng.integers(8, 17)))
    if name == "hum":
        return T.hum(x, mains=float(rng.choice([50.0, 60.0])), level_db=rng.uniform(-35, -20), seed=seed)
    if name == "jump":
        return T.jump(x, T.piece(seed + 10_000, seconds), seed=seed)
    if name == "jump_same":  # into another piece of the same style: the hard case
        return T.jump(x, T.piece(seed + 10_000, seconds, style=style), seed=seed)
    if name == "seam":
        return T.seam(x, float(rng.choice(joins)), seed=seed)
    raise ValueError(name)


def tripped(group: list[dict]) -> list[set[str]]:
    return [{c["check"] for c in s["checks"]} for s in combine(group, CFG)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--takes", type=int, default=24, help="clean takes (seeds); each gets every failure")
    ap.add_argument("--seconds", type=float, default=24.0)
    ap.add_argument("--first-seed", type=int, default=0, help="another range of seeds: takes no threshold saw")
    ap.add_argument("--verbose", action="store_true", help="name every miss and false alarm")
    args = ap.parse_args()
    joins = [round(args.seconds / 2, 3), round(args.seconds * 0.75, 3)]
    hits = dict.fromkeys(FAMILIES, 0)
    wins = dict.fromkeys(FAMILIES, 0)
    inverted = dict.fromkeys(FAMILIES, 0)  # rejected damaged take over its accepted clean twin
    tried = dict.fromkeys(FAMILIES, 0)
    clean_feats: dict[str, list[dict]] = {}
    master_feats: dict[str, list[dict]] = {}
    vamp_feats: dict[str, list[dict]] = {"vamp": []}
    breakdown_feats: dict[str, list[dict]] = {"breakdown": []}
    t0 = time.process_time()
    for seed in range(args.first_seed, args.first_seed + args.takes):
        x = T.piece(seed, args.seconds)
        style = T.STYLES[np.random.default_rng(seed).integers(len(T.STYLES))]
        clean = features(x, T.SR, joins)
        clean_feats.setdefault(style, []).append(clean)
        master_feats.setdefault(style, []).append(features(T.loud_master(x, seed=seed), T.SR, joins))
        vamp_feats["vamp"].append(features(L.vamp(seed, args.seconds), T.SR, joins))
        drummed = ("band", "electronic")[seed % 2]
        breakdown_feats["breakdown"].append(features(T.breakdown(seed, args.seconds, style=drummed), T.SR, joins))
        for name, check in FAMILIES.items():
            if name == "dull" and clean["hf_db"] <= -40.0:
                continue  # nothing up there to lose: a dark piece cannot be muffled
            tried[name] += 1
            bad = features(damage(name, x, seed, args.seconds, joins, style), T.SR, joins)
            s = combine([clean, bad], CFG)
            hit = check in {c["check"] for c in s[1]["checks"]}
            hits[name] += hit
            wins[name] += s[0]["score"] > s[1]["score"]
            inverted[name] += bool(s[1]["rejects"]) and not s[0]["rejects"] and s[1]["score"] > s[0]["score"]
            if args.verbose and not hit:
                print(f"  miss: {name} on seed {seed} ({style}): {s[1]['checks']}")
    n = args.takes
    print(f"{n} clean takes of {args.seconds:.0f} s from seed {args.first_seed}, "
          f"{time.process_time() - t0:.0f} s CPU\n")
    print(f"{'failure':10} {'check':9} {'takes':>6} {'trips':>7} {'clean wins':>11} {'rejected above':>15}")
    for name, check in FAMILIES.items():
        k = max(1, tried[name])
        print(f"{name:10} {check:9} {tried[name]:6} {hits[name] / k:7.0%} {wins[name] / k:11.0%} "
              f"{inverted[name]:15d}")
    for label, groups in (("clean takes", clean_feats), ("loud masters of them", master_feats),
                          ("vamps (a bar pattern played all through)", vamp_feats),
                          ("breakdowns (the drums stop at 40%)", breakdown_feats)):
        alarms: dict[str, int] = {}
        rejected = total = 0
        for style, feats in groups.items():
            for i in range(0, len(feats), 4):
                group = feats[i:i + 4]
                for found, s in zip(tripped(group), combine(group, CFG)):
                    total += 1
                    rejected += bool(s["rejects"])
                    for c in found:
                        alarms[c] = alarms.get(c, 0) + 1
                    if args.verbose and s["rejects"]:
                        print(f"  rejected: a {label} {style} take: {s['rejects']}")
        print(f"\nfalse alarms on {total} {label} (groups of up to 4 of one style), per check:")
        print("  " + (", ".join(f"{c} {alarms[c] / total:.1%}" for c in sorted(alarms)) or "none"))
        print(f"  any hard reject: {rejected}/{total} ({rejected / total:.1%})")


if __name__ == "__main__":
    main()
