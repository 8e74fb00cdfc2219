"""CPU seconds of the sequence analysis (tempo, beats, key, energy)
per minute of audio against its 1 s budget, and the flow order's key+tempo cost against
the listed order on three fixture albums.

    .venv/bin/python bench/sequence_cost.py [--seconds 60] [--repeat 3]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from music_fixtures import SR, song  # noqa: E402
from order_fixtures import ALBUMS  # noqa: E402

from albumgen.audio.music import analyse  # noqa: E402
from albumgen.stages.sequence import order  # noqa: E402

BUDGET_S = 1.0  # CPU seconds per minute of audio


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    c0 = time.process_time()
    analyse(song(0, "major", 120.0, 2.0), SR)  # librosa import and numba's first compile
    print(f"first call in a process (imports, numba cache load): {time.process_time() - c0:.2f} s CPU")
    takes = {"song 32k mono": song(9, "minor", 124.0, args.seconds),
             "song 32k stereo": np.stack([song(2, "major", 96.0, args.seconds, seed=1)] * 2, axis=1)}
    for name, audio in takes.items():
        cpu = []
        for _ in range(args.repeat):
            c = time.process_time()
            analyse(audio, SR)
            cpu.append(time.process_time() - c)
        per_min = min(cpu) * 60.0 / args.seconds
        print(f"{name:16} {per_min:.3f} s CPU per minute of audio ({per_min / BUDGET_S:.2f}x the {BUDGET_S:.0f} s budget)")
    print(f"{'album':10} {'tracks':>6} {'listed cost':>11} {'flow cost':>9} {'ratio':>6} {'flow s':>7}")
    for name, tracks in ALBUMS.items():
        t = time.perf_counter()
        idx = order.flow(tracks)
        dt = time.perf_counter() - t
        listed, flowed = order.path_cost(tracks, list(range(len(tracks)))), order.path_cost(tracks, idx)
        print(f"{name:10} {len(tracks):6d} {listed:11.2f} {flowed:9.2f} {flowed / listed:6.2f} {dt:7.3f}")
    print("cost: Camelot steps between neighbours + tempo jumps in 10 % steps, summed over the album")


if __name__ == "__main__":
    main()
