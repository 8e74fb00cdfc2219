"""CPU cost of the always-on pick scorers on a 30 s take (target: under 1 s per 30 s of
audio on a 2-core machine, so a take's cost grows with its length and no faster). Prints
seconds of CPU per take and the ratio to the budget. `--seconds 180` with the sung song
(ACE-Step's three minutes) is where a cost that grows faster than the take shows.

    .venv/bin/python bench/pick_cost.py [--seconds 30] [--repeat 3]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

import audio_fixtures as F  # noqa: E402
import song_fixtures as S  # noqa: E402

from albumgen.stages.pick.features import features  # noqa: E402

BUDGET_S = 1.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    takes = {"music 32k mono": (F.music(32000, args.seconds), 32000),
             "music 48k stereo": (F.stereo(F.music(48000, args.seconds), 7), 48000),
             "white noise 32k": (F.white_noise(32000, args.seconds), 32000),
             "sung song 48k": (S.song(1, args.seconds), S.SR)}
    budget = BUDGET_S * args.seconds / 30.0
    features(*takes["music 32k mono"])  # warm up imports and filter tables
    worst = 0.0
    for name, (audio, sr) in takes.items():
        cpu, wall = [], []
        for _ in range(args.repeat):
            c0, w0 = time.process_time(), time.perf_counter()
            features(np.asarray(audio, dtype=np.float32), sr)
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
        best = min(cpu)
        worst = max(worst, best)
        print(f"{name:18} {args.seconds:.0f} s take: {best:.3f} s CPU (wall {min(wall):.3f} s), "
              f"{best / budget:.2f}x the {budget:.1f} s budget")
    print(f"worst: {worst:.3f} s CPU per {args.seconds:.0f} s take ({worst / budget:.2f}x budget)")


if __name__ == "__main__":
    main()
