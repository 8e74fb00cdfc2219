"""Seam detection with and without the partial-by-partial cut, side by side on the same
takes: how often `seam` trips on a take that resumes at another point of itself at one of
its window joins (the same style on both sides: it is the same piece), and how often it
trips on the clean take. Seeds from --first-seed; thresholds were tuned on 0-23.

    .venv/bin/python bench/pick_seams.py [--takes 40] [--seconds 24] [--first-seed 1000]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

import take_fixtures as T  # noqa: E402

import albumgen.stages.pick.change as change  # noqa: E402
from albumgen.stages.pick.config import PickConfig  # noqa: E402
from albumgen.stages.pick.features import features  # noqa: E402

LIMIT = PickConfig().max_seam


def seams(y: np.ndarray, joins: list[float]) -> tuple[float, float]:
    """(seam without the partials' cut, with it)."""
    partials = change.partial_cut_curve
    change.partial_cut_curve = lambda a: np.zeros(a.power.shape[0])  # the band cut and the beat alone
    try:
        without = features(y, T.SR, joins)["seam"]
    finally:
        change.partial_cut_curve = partials
    return without, features(y, T.SR, joins)["seam"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--takes", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=24.0)
    ap.add_argument("--first-seed", type=int, default=1000)
    args = ap.parse_args()
    joins = [args.seconds / 2, args.seconds * 0.75]
    hits, alarms = np.zeros(2), np.zeros(2)
    for seed in range(args.first_seed, args.first_seed + args.takes):
        x = T.piece(seed, args.seconds)
        join = float(np.random.default_rng(seed + 7919).choice(joins))
        alarms += np.array(seams(x, joins)) > LIMIT
        hits += np.array(seams(T.seam(x, join, seed=seed), joins)) > LIMIT
    n = args.takes
    print(f"{n} takes of {args.seconds:.0f} s from seed {args.first_seed}")
    print(f"{'':24} {'seam trips':>11} {'false alarms':>13}")
    for i, label in enumerate(("band cut and beat", "with the partials' cut")):
        print(f"{label:24} {hits[i] / n:11.0%} {alarms[i] / n:13.0%}")


if __name__ == "__main__":
    main()
