"""ACE-Step render cost: albumgen's loop and diffusers' AceStepPipeline.__call__ side by side
on the same takes (same prompts, seeds, duration, steps).

    .venv/bin/python bench/acestep_cost.py                          # tiny-acestep on the CPU
    .venv/bin/python bench/acestep_cost.py --takes 8 --seconds 30 --repeats 5

The reference is what a user would write: one pipeline call for the batch, a generator per
take. albumgen's loop encodes each take's conditions alone, runs the DiT over same-shaped
groups of at least two rows and decodes each take alone (what makes a take independent of
its batch: albumgen.models.acestep); it must be no slower. Runs alternate (reference,
albumgen, reference, ...) so drift on a shared machine hits both; the median of the repeats
is reported. Prints seconds per minute of audio for each and albumgen's ratio to the
reference (< 1: faster). A benchmark, not a test: nothing here asserts a speed.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from albumgen.models.acestep import Request, decode_latents, generate, load_acestep

PROMPTS = ["warm lofi piano, 92 bpm, in A minor", "brass band marching through rain, 120 bpm",
           "synthpop with a breathy vocal, 110 bpm, in D major", "acoustic folk with fingerpicked guitar, 96 bpm"]


def ours(lm, prompts, seeds, seconds, steps, batch):
    out = []
    for i in range(0, len(prompts), batch):
        latents = generate(lm, [Request(prompt=p) for p in prompts[i:i + batch]], seeds[i:i + batch], seconds, steps,
                           guidance=1.0, shift=3.0)
        out += [decode_latents(lm, latents[j]) for j in range(latents.shape[0])]
    return out


def reference(lm, prompts, seeds, seconds, steps, batch):
    out = []
    for i in range(0, len(prompts), batch):
        part = prompts[i:i + batch]
        audio = lm.pipe(prompt=part, lyrics=[""] * len(part), audio_duration=seconds, num_inference_steps=steps,
                        guidance_scale=1.0, shift=3.0,
                        generator=[torch.Generator().manual_seed(s) for s in seeds[i:i + batch]]).audios
        out += list(audio)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="tiny-acestep")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--takes", type=int, default=8)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    lm = load_acestep(args.model, args.device)
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(args.takes)]
    seeds = list(range(1, args.takes + 1))
    audio_minutes = args.takes * args.seconds / 60
    ours(lm, prompts[:2], seeds[:2], 1.0, 2, 2)  # warm both paths (first-call allocations)
    reference(lm, prompts[:2], seeds[:2], 1.0, 2, 2)
    times: dict[str, list[float]] = {"diffusers": [], "albumgen": []}
    for _ in range(args.repeats):
        for name, fn in (("diffusers", reference), ("albumgen", ours)):
            t0 = time.perf_counter()
            fn(lm, prompts, seeds, args.seconds, args.steps, args.batch)
            times[name].append(time.perf_counter() - t0)
    a, b = ours(lm, prompts, seeds, args.seconds, args.steps, args.batch), \
        reference(lm, prompts, seeds, args.seconds, args.steps, args.batch)
    same = max(float((x - y).abs().max()) for x, y in zip(a, b))
    threads = os.environ.get("OMP_NUM_THREADS", str(torch.get_num_threads()))
    print(f"{args.model} on {args.device} ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{threads} threads): {args.takes} takes of {args.seconds:g} s, {args.steps} steps, batch {args.batch}, "
          f"median of {args.repeats}")
    med = {k: statistics.median(v) for k, v in times.items()}
    for name in ("diffusers", "albumgen"):
        print(f"  {name:9s}  {med[name] / audio_minutes:7.3f} s per minute of audio  "
              f"(runs: {', '.join(f'{t:.2f}' for t in times[name])} s)")
    print(f"  albumgen / diffusers: {med['albumgen'] / med['diffusers']:.2f}x time  "
          f"(largest sample difference between the two: {same:.1e})")


if __name__ == "__main__":
    main()
