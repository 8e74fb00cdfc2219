"""The two render backends side by side on the tiny models, and MBD's decode cost per take.

    make test-audiocraft   # builds .venv-audiocraft (the audiocraft extra) once
    .venv-audiocraft/bin/python bench/audiocraft_throughput.py [--takes 8] [--seconds 2]

Both tiny presets are random weights with the same token shapes (4 codebooks of 64, 50
frames/s): transformers' `tiny` through albumgen's fast loop, AudioCraft's `tiny` (built
with audiocraft.models.builders) through albumgen's AudioCraft loop. Each renders the same
takes (same prompts, seeds and batch) after one warm-up; EnCodec decoding is left out. The
first backend is the reference: the second line prints its ratio. Tiny models measure the
per-step overhead of each loop, not a GPU's arithmetic: on real checkpoints the ratio
differs. This is a benchmark, not a test: nothing here asserts a speed.
"""
from __future__ import annotations

import argparse
import time

import torch

from albumgen.models.sampling import Sampling

PROMPTS = ["80s pop track with bassy drums and synth", "lofi slow bpm electro chill with organic samples",
           "epic orchestral score with brass and timpani", "acoustic folk with fingerpicked guitar"]


def loops(device: str):
    from albumgen.models.audiocraft_backend import AudioCraftLoop, load_audiocraft
    from albumgen.models.fast import FastLoop
    from albumgen.models.musicgen import load_musicgen

    yield "transformers (fast loop)", FastLoop(load_musicgen("tiny", device))
    yield "audiocraft", AudioCraftLoop(load_audiocraft("tiny", device))


def timed(loop, prompts: list[str], seeds: list[int], frames: int) -> float:
    if loop.device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    loop.generate(prompts, seeds, frames, Sampling())
    if loop.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--takes", type=int, default=8, help="takes in the batch")
    ap.add_argument("--seconds", type=float, default=2.0, help="seconds of audio per take")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch threads on CPU")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    frames = int(args.seconds * 50)
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(args.takes)]
    seeds = list(range(1, args.takes + 1))
    print(f"{args.takes} takes x {args.seconds:g} s, batch {args.takes}, {args.device}, {args.threads} thread(s)")
    ref = None
    for name, loop in loops(args.device):
        timed(loop, prompts[:1], seeds[:1], 10)  # warm-up: first-call allocations
        s = timed(loop, prompts, seeds, frames)
        rate = args.takes / s
        ref = ref or rate
        print(f"{name:26s} {rate:7.2f} takes/s  {rate * args.seconds:7.2f} audio s/s  {rate / ref:5.2f}x")
    from albumgen.models.mbd import LoadedMBD, build_tiny_mbd, decode_mbd

    mbd = LoadedMBD(build_tiny_mbd(device=args.device), "tiny", args.device)
    codes = torch.randint(0, 64, (4, frames))
    decode_mbd(mbd, codes[:, :10], 0)
    t0 = time.perf_counter()
    decode_mbd(mbd, codes, 1)
    print(f"MBD decode (tiny, 2 bands, 20 steps): {time.perf_counter() - t0:.2f} s per {args.seconds:g} s take")


if __name__ == "__main__":
    main()
