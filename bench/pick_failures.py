"""How well the picker hears what generated music gets wrong (issue 12), over many random
synthesised takes (tests/take_fixtures.py: six styles, random keys, tempi and timbres),
each failure drawn with random parameters.

Per failure: how often its check trips on the damaged take, and how often the clean take
outscores the damaged one as a pair, now and with the issue-12 features switched off (the
picker as it was: the reference column). Then false alarms: clean takes, scored in groups
of four of one style, that trip each check.

    .venv/bin/python bench/pick_failures.py [--takes 24] [--seconds 24] [--first-seed 0] [--verbose]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import take_fixtures as T  # noqa: E402

from albumgen.stages.pick.combine import combine, with_group  # noqa: E402
from albumgen.stages.pick.config import PickConfig  # noqa: E402
from albumgen.stages.pick.features import features  # noqa: E402

NEW = ("dull", "dropout", "stuck", "hum", "jump", "seam")
FEATURE = {"dull": "dull_db", "dropout": "dropouts", "stuck": "stuck_s", "hum": "hum_db", "jump": "jump", "seam": "seam"}
NOW = PickConfig()
# The picker before issue 12: the new features weigh nothing and no new check trips.
BEFORE = PickConfig(weights={**NOW.weights.model_dump(), "dull_db": 0, "dropouts": 0, "stuck_s": 0, "hum_db": 0,
                             "jump": 0, "seam": 0},
                    max_dull_db=1e9, max_dropouts=10 ** 6, max_stuck_s=1e9, max_hum_db=1e9, max_jump=1e9,
                    max_seam=1e9)


def damage(name: str, x: np.ndarray, seed: int, seconds: float, joins: list[float]) -> np.ndarray:
    rng = np.random.default_rng(seed + 7919)
    if name == "dull":
        from scipy import signal

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
    if name == "seam":
        return T.seam(x, float(rng.choice(joins)), seed=seed)
    raise ValueError(name)


def tripped(group: list[dict], cfg: PickConfig) -> list[set[str]]:
    return [{c["check"] for c in s["checks"]} for s in combine(group, cfg)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--takes", type=int, default=24, help="clean takes (seeds); each gets every failure")
    ap.add_argument("--seconds", type=float, default=24.0)
    ap.add_argument("--first-seed", type=int, default=0, help="another range of seeds: takes no threshold saw")
    ap.add_argument("--verbose", action="store_true", help="name every miss and false alarm")
    args = ap.parse_args()
    joins = [round(args.seconds / 2, 3), round(args.seconds * 0.75, 3)]
    hits = {n: 0 for n in NEW}
    wins = {n: [0, 0] for n in NEW}  # now, before
    tried = {n: 0 for n in NEW}
    values: dict[str, list[tuple[float, float]]] = {n: [] for n in NEW}  # (clean, damaged)
    clean_feats: dict[str, list[dict]] = {}
    t0 = time.process_time()
    for seed in range(args.first_seed, args.first_seed + args.takes):
        x = T.piece(seed, args.seconds)
        style = T.STYLES[np.random.default_rng(seed).integers(len(T.STYLES))]
        clean = features(x, T.SR, joins)
        clean_feats.setdefault(style, []).append(clean)
        for name in NEW:
            if name == "dull" and clean["hf_db"] <= -40.0:
                continue  # nothing up there to lose: a dark piece cannot be muffled
            tried[name] += 1
            bad = features(damage(name, x, seed, args.seconds, joins), T.SR, joins)
            grouped = with_group([clean, bad])
            values[name].append((grouped[0][FEATURE[name]], grouped[1][FEATURE[name]]))
            hit = name in tripped([clean, bad], NOW)[1]
            hits[name] += hit
            if args.verbose and not hit:
                print(f"  miss: {name} on seed {seed} ({style}): {FEATURE[name]}={grouped[1][FEATURE[name]]:.2f}")
            for k, cfg in enumerate((NOW, BEFORE)):
                s = combine([clean, bad], cfg)
                wins[name][k] += s[0]["score"] > s[1]["score"]
    n = args.takes
    print(f"{n} clean takes of {args.seconds:.0f} s, {time.process_time() - t0:.0f} s CPU\n")
    print(f"{'failure':9} {'takes':>6} {'check trips':>12} {'clean wins now':>15} {'before':>8}")
    for name in NEW:
        k = max(1, tried[name])
        print(f"{name:9} {tried[name]:6} {hits[name] / k:12.0%} {wins[name][0] / k:15.0%} {wins[name][1] / k:8.0%}")
    print(f"\n{'feature':9} {'clean: median':>14} {'max':>7}   {'damaged: min':>12} {'median':>7}  threshold")
    limits = {"dull": NOW.max_dull_db, "dropout": NOW.max_dropouts, "stuck": NOW.max_stuck_s, "hum": NOW.max_hum_db,
              "jump": NOW.max_jump, "seam": NOW.max_seam}
    for name in NEW:
        c, d = np.array(values[name]).T if values[name] else (np.zeros(1), np.zeros(1))
        print(f"{FEATURE[name]:9} {np.median(c):14.2f} {c.max():7.2f}   {d.min():12.2f} {np.median(d):7.2f}  "
              f"{limits[name]}")
    alarms = {c: 0 for c in NEW}
    rejected = total = 0
    for style, feats in clean_feats.items():
        for i in range(0, len(feats), 4):
            group = feats[i:i + 4]
            for found, s in zip(tripped(group, NOW), combine(group, NOW)):
                total += 1
                rejected += bool(s["rejects"])
                for c in found & set(NEW):
                    alarms[c] += 1
                    if args.verbose:
                        print(f"  false alarm: {c} on a clean {style} take: {s['warnings'] + s['rejects']}")
    print(f"\nfalse alarms on {total} clean takes (groups of up to 4 of one style):")
    print("  " + ", ".join(f"{c} {alarms[c] / total:.1%}" for c in NEW))
    print(f"  clean takes with any hard reject (old checks too): {rejected / total:.1%}")


if __name__ == "__main__":
    main()
