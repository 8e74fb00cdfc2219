"""What melody conditioning costs the fast loop: the same batch rendered by a text-only model
and by its melody twin (MusicgenMelody: a chroma + text prefix in the decoder's cache, no
cross-attention), side by side, plus transformers' own `generate` on the melody model.

    .venv/bin/python bench/melody_cost.py                              # tiny presets, CPU
    .venv/bin/python bench/melody_cost.py --batch 8 --frames 500

The tiny presets have random weights; speed depends on shapes, not weight values. EnCodec
decoding is left out of every timing. A benchmark, not a test: nothing here asserts a speed.
"""
from __future__ import annotations

import argparse
import time
from types import SimpleNamespace

import numpy as np
import torch

from albumgen.models.fast import FastLoop
from albumgen.models.melody import chroma
from albumgen.models.musicgen import load_musicgen
from albumgen.models.sampling import Sampling

PROMPTS = ["80s pop track with bassy drums and synth", "lofi slow bpm electro chill with organic samples",
           "epic orchestral score with brass and timpani", "acoustic folk with fingerpicked guitar"]


def melody(seconds: float = 10.0) -> torch.Tensor:
    t = np.arange(int(seconds * 32000)) / 32000
    notes = 220 * 2 ** (np.floor(t * 2) % 8 / 12)  # a new note every half second
    return torch.from_numpy((0.3 * np.sin(2 * np.pi * notes * t)).astype(np.float32))[None]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--frames", type=int, default=250, help="frames per take (50 a second)")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.manual_seed(0)
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(args.batch)]
    seeds = list(range(args.batch))
    s = Sampling()
    audio = args.batch * args.frames / 50
    m = melody()
    runs = {}
    for name, melodies in (("tiny", None), ("tiny-melody", [m] * args.batch)):
        loop = FastLoop(load_musicgen(name, "cpu"))
        loop.generate(prompts, seeds, args.frames, s, melodies=melodies)  # warm-up: states, position table
        runs[f"albumgen fast loop, {name}"] = lambda loop=loop, mel=melodies: loop.generate(
            prompts, seeds, args.frames, s, melodies=mel)
    lm = load_musicgen("tiny-melody", "cpu")
    ids, mask = lm.tokenize(prompts)
    features = chroma(m, lm.chroma)[None].expand(args.batch, -1, -1)
    # EnCodec left out of the timing: generate gets an empty waveform back
    lm.model.audio_encoder.decode = lambda codes, *a, **k: SimpleNamespace(audio_values=torch.zeros(1))
    runs["transformers generate, tiny-melody"] = lambda: lm.model.generate(
        input_ids=ids, attention_mask=mask, input_features=features, do_sample=True, top_k=250, guidance_scale=3.0,
        max_new_tokens=args.frames + 3)
    # Interleaved rounds, best of each: on a shared machine a burst of other work then hits
    # one round of every contender, not all the repeats of one.
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(args.repeats):
        for what, fn in runs.items():
            t = time.perf_counter()
            fn()
            best[what] = min(best[what], time.perf_counter() - t)
    rows = list(best.items())
    print(f"batch {args.batch}, {args.frames} frames a take, CPU ({torch.get_num_threads()} threads), best of "
          f"{args.repeats}")
    base = rows[0][1]
    for what, sec in rows:
        print(f"  {what:40s} {sec:7.3f} s  {audio / sec:7.1f} audio s/s  {sec / base:5.2f}x the text-only loop")


if __name__ == "__main__":
    main()
