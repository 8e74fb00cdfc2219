"""ACE-Step on a GPU: are takes independent of their batch, and does the auto batch size's
memory estimate hold? Random weights at the 1.5 turbo checkpoint's sizes (bench/acestep_check.py).

    PYTHONPATH=src python bench/acestep_invariance.py               # on a GPU
    PYTHONPATH=src python bench/acestep_invariance.py --dry-run     # anywhere: the tiny sizes on CPU

Prints: each of 4 takes rendered alone vs in one batch of 4 (a fixed shape of 4 rows, as
render.batch_size: 4 renders them), bit for bit and the largest difference; the peak memory
of a batch of 1 and of 4, the measured bytes per take against albumgen's estimate
(albumgen.models.acestep.bytes_per_take), and seconds per song at each batch. A benchmark,
not a test: nothing here asserts.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from acestep_check import LYRICS, build  # noqa: E402

from albumgen.models import acestep  # noqa: E402

PROMPTS = ["dark synthwave with gated drums, 110 bpm, in A minor", "acoustic folk ballad, 84 bpm",
           "dark synthwave with gated drums, 110 bpm, in A minor", "brass band at a street parade, 126 bpm"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--steps", type=int, default=8)
    args = ap.parse_args()
    cuda = not args.dry_run
    device = "cuda" if cuda else "cpu"
    dtype = torch.bfloat16 if cuda else torch.float32
    seconds = args.seconds or (180.0 if cuda else 4.0)
    pipe = build(device, dtype, tiny=not cuda)
    lm = acestep.AceModel(pipe=pipe, model_id="acestep-random", revision="random", device=device, dtype=dtype,
                          sample_rate=int(pipe.sample_rate), frame_rate=float(pipe.latents_per_second),
                          channels=int(pipe.vae.config.audio_channels))
    reqs = [acestep.Request(prompt=p, lyrics=LYRICS if i % 2 else "", bpm=acestep_bpm(p)) for i, p in enumerate(PROMPTS)]
    seeds = [11, 12, 13, 14]

    def run(rs, ss, rows):
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated() if cuda else 0
        t = time.perf_counter()
        out = acestep.generate(lm, rs, ss, seconds, args.steps, guidance=1.0, shift=3.0, rows=rows)
        if cuda:
            torch.cuda.synchronize()
        took = time.perf_counter() - t
        peak = (torch.cuda.max_memory_allocated() - base) if cuda else 0
        return out, took, peak

    run(reqs[:1], seeds[:1], 4)  # warm-up
    batch, t4, peak4 = run(reqs, seeds, 4)
    alone = [run([r], [s], 4)[0][0] for r, s in zip(reqs, seeds)]
    same = [torch.equal(a, b) for a, b in zip(alone, batch)]
    diff = max(float((a.float() - b.float()).abs().max()) for a, b in zip(alone, batch))
    _, t2, peak2 = run(reqs[:1], seeds[:1], 2)  # a lone take runs in two rows (albumgen.models.acestep)
    name = torch.cuda.get_device_name() if cuda else "cpu"
    print(f"{name}, {str(dtype).replace('torch.', '')}, {seconds:g} s songs, {args.steps} steps")
    print(f"  alone (4 rows) vs batch of 4: bit for bit {same}, largest difference {diff:.3g}")
    print(f"  batch 4: {t4:.2f} s ({t4 / 4:.2f} s per song); one take (2 rows): {t2:.2f} s")
    if cuda:
        measured = (peak4 - peak2) / 2
        estimate = acestep.bytes_per_take(lm, seconds)
        print(f"  peak over the weights: 2 rows {peak2 / 2**30:.2f} GiB, 4 rows {peak4 / 2**30:.2f} GiB; "
              f"per take measured {measured / 2**30:.3f} GiB, estimated {estimate / 2**30:.3f} GiB "
              f"({estimate / measured:.2f}x)")


def acestep_bpm(prompt: str) -> int | None:
    import re

    m = re.search(r"(\d{2,3}) bpm", prompt)
    return int(m.group(1)) if m else None


if __name__ == "__main__":
    main()
