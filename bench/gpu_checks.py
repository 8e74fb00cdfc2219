"""The measurements bench/gpu_check.sh makes on a CUDA GPU, one model per process.

    python bench/gpu_checks.py small     # fp32 greedy = transformers; bf16 batch invariance; state growth
    python bench/gpu_checks.py medium    # bf16 batch 32 at 1504 steps; batch 32 -> 3 -> 32 on one loop
    python bench/gpu_checks.py small --dry-run   # the same lines with the tiny model on CPU

Models are the real architectures with random weights (bench/render_throughput.py builds
them): speed, memory and kernel choice depend on shapes, not on weight values. Each check
prints what it measured; a check that finds what must not happen prints `FAIL: ...` and the
process exits 1 (graphs turned off, the old cache alive while a new one is allocated,
greedy tokens unlike transformers', a take that changes with its neighbours at a fixed row
count). A different batch size changing a take is measured, not failed: on CUDA it is
expected (README, Reproducibility).
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import render_throughput as rt  # noqa: E402

from albumgen.models.fast import FastLoop, delays  # noqa: E402
from albumgen.models.sampling import Sampling  # noqa: E402

# Prompts of several lengths: some pad to the 32-token text bucket, some to 64 (byte
# tokenizer on the tiny model; t5 tokens on the real ones, where long ones still pass 32).
PROMPTS = rt.PROMPTS + [
    "a slow ambient piece with warm analog pads, distant choir, soft rain and a single felt piano line",
    "jazz trio", "dark techno at 130 bpm with a rolling bassline, metallic hats and a long reverb tail",
    "string quartet, pizzicato",
]
LONG = ["a very long prompt about a bright synthwave anthem with gated drums, arpeggiated bass, "
        "neon pads and a soaring lead melody that keeps climbing"]


@dataclass
class Sizes:
    device: str
    medium: str  # the model of the memory and shape checks
    small: str  # the model of the invariance, growth and greedy checks
    batch: int
    steps: int  # decoding steps of the memory check (1504: a 30 s window)
    few: int  # the small batch between two big ones
    frames: int  # frames of the other checks
    alone: int  # takes of the big batch also rendered alone
    growth_batch: int
    greedy_steps: int
    graphs: bool | None  # None: CUDA graphs on CUDA; True on CPU runs the stand-in graphs


REAL = Sizes("cuda", "medium", "small", 32, 1504, 3, 300, 4, 8, 200, None)
DRY = Sizes("cpu", "tiny", "tiny", 4, 40, 3, 20, 2, 2, 20, True)


class Checks:
    def __init__(self, sizes: Sizes):
        self.z = sizes
        self.failed: list[str] = []

    def fail(self, what: str) -> None:
        self.failed.append(what)
        print(f"FAIL: {what}")

    # -- memory -------------------------------------------------------------------------
    def cuda(self) -> bool:
        return self.z.device == "cuda"

    def reset_peak(self) -> int:
        if not self.cuda():
            return 0
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        return torch.cuda.memory_allocated()

    def peak(self) -> int | None:
        if not self.cuda():
            return None
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated()

    @staticmethod
    def gib(n: int | None) -> str:
        if n is None:
            return "n/a on cpu"
        return f"{n / 2**30:.2f} GiB" if abs(n) >= 2**30 else f"{n / 2**20:.2f} MiB"

    def loop(self, lm, graphs: bool | None = None) -> FastLoop:
        return FastLoop(lm, graphs=self.z.graphs if graphs is None else graphs)

    def timed(self, loop: FastLoop, prompts, seeds, frames, s: Sampling, **kw) -> tuple[float, torch.Tensor]:
        rt.sync(self.z.device)
        t = time.perf_counter()
        codes = loop.generate(prompts, seeds, frames, s, **kw)
        rt.sync(self.z.device)
        return time.perf_counter() - t, codes

    # -- the checks ---------------------------------------------------------------------
    def memory_and_speed(self, lm, loop: FastLoop) -> None:
        """Batch `batch` in bf16 for a whole window: ms/step, graphs on, peak memory against
        what batch_size 'auto' budgets per take (kv_bytes_per_take)."""
        z = self.z
        delay = max(delays(lm.num_codebooks, lm.channels))
        frames = z.steps - delay - 1
        prompts = [PROMPTS[i % len(PROMPTS)] for i in range(z.batch)]
        weights = sum(p.nbytes for p in lm.model.parameters())
        base = self.reset_peak()
        # One run, as a render's first batch is: allocation and graph capture included (a
        # second run would cost the check another ~minute for a few percent).
        took, _ = self.timed(loop, prompts, list(range(z.batch)), frames, Sampling())
        peak = self.peak()
        budget = z.batch * loop.kv_bytes_per_take(frames, cfg=True)
        print(f"memory/speed: {lm.model_id} {str(lm.dtype).replace('torch.', '')} batch {z.batch}, {z.steps} steps: "
              f"{took / z.steps * 1e3:.2f} ms/step, {z.batch * frames / lm.frame_rate / took:.1f} audio s/s "
              f"(capture included), use_graphs={loop.use_graphs}, graphs_off={loop.graphs_off}")
        above = None if peak is None else peak - base
        print(f"memory/speed: model {self.gib(weights)}; peak above it {self.gib(above)}; "
              f"state held {self.gib(loop.held_bytes())}; batch x kv_bytes_per_take {self.gib(budget)}"
              + ("" if above is None else f" (peak / budget = {above / budget:.2f})"))
        if not loop.use_graphs and self.cuda():
            self.fail(f"graphs off in the memory check: {loop.graphs_off}")

    def shapes(self, lm, loop: FastLoop) -> None:
        """batch -> few -> batch on one loop: each change of batch replaces the state; the
        graphs must stay on (a fresh pool per state) and the tokens match an eager loop."""
        z = self.z
        s = Sampling()
        eager = self.loop(lm, graphs=False)
        steps = z.frames + max(delays(lm.num_codebooks, lm.channels))
        for b in (z.batch, z.few, z.batch):
            prompts = [PROMPTS[i % len(PROMPTS)] for i in range(b)]
            took, got = self.timed(loop, prompts, list(range(b)), z.frames, s)
            (st,) = loop._states.values()
            same = torch.equal(got, eager.generate(prompts, list(range(b)), z.frames, s))
            print(f"shapes: batch {b:>2}: {took / steps * 1e3:.2f} ms/step (capture included), "
                  f"use_graphs={loop.use_graphs}, graphs={len(st.graphs)}, pool={id(st.pool):#x}, "
                  f"tokens {'=' if same else '!='} eager")
            if not same:
                self.fail(f"batch {b}: graphed tokens differ from eager ones")
        if self.cuda() and not loop.use_graphs:
            self.fail(f"graphs went off across 32 -> 3 -> 32: {loop.graphs_off}")

    def invariance(self, lm) -> None:
        """bf16, each take of a batch of `batch` against itself computed (a) alone: another
        row count, measured, not failed; (b) among other neighbours, same rows and text
        bucket; (c) alone padded to `batch` rows, its own text bucket. (b) and (c) are what
        a set render.batch_size promises (README): they must be identical."""
        z = self.z
        loop = self.loop(lm)
        s = Sampling()
        prompts = [PROMPTS[i % len(PROMPTS)] for i in range(z.batch)]
        seeds = [1000 + i for i in range(z.batch)]
        _, batch = self.timed(loop, prompts, seeds, z.frames, s)
        for i in range(z.alone):
            others = [p for j, p in enumerate(prompts) if j != i][::-1]
            _, alone = self.timed(loop, prompts[i:i + 1], seeds[i:i + 1], z.frames, s)
            _, moved = self.timed(loop, prompts[i:i + 1] + others, seeds[i:i + 1] + [5000 + j for j in range(len(others))],
                                  z.frames, s)
            _, padded = self.timed(loop, prompts[i:i + 1], seeds[i:i + 1], z.frames, s, rows=z.batch)
            verdicts = [first_difference(x[0], batch[i]) for x in (alone, moved, padded)]
            print(f"invariance: take {i} ({len(prompts[i])} chars) against batch {z.batch}: alone {verdicts[0]}; "
                  f"other neighbours {verdicts[1]}; alone padded to {z.batch} rows {verdicts[2]}")
            for what, verdict in (("other neighbours", verdicts[1]), ("alone padded", verdicts[2])):
                if verdict != "identical":
                    self.fail(f"take {i}, {what} at {z.batch} rows: {verdict}")

    def growth(self, lm) -> None:
        """Short prompts, then >32-token ones at the same batch: the state grows (text bucket
        32 -> 64). The peak above what was allocated before must stay below the new state's
        size: the old one is freed first."""
        z = self.z
        loop = self.loop(lm)
        s = Sampling()
        b = z.growth_batch
        loop.generate(["jazz trio"] * b, list(range(b)), z.frames, s)
        old = loop.held_bytes()
        base = self.reset_peak()
        loop.generate(LONG * b, list(range(b)), z.frames, s)
        new = loop.held_bytes()
        peak = self.peak()
        rise = None if peak is None else peak - base
        print(f"growth: batch {b}, state {self.gib(old)} -> {self.gib(new)}; peak rise {self.gib(rise)} "
              f"(old freed first: ~ new - old + activations; both alive: ~ new)")
        (st,) = loop._states.values()
        if st.ck.shape[3] <= 32:
            self.fail("growth: the long prompts did not pass the 32-token text bucket")
        if loop.held_bytes() != st.nbytes():
            self.fail("growth: more than one state held")
        if rise is not None and rise >= new:
            self.fail(f"growth: peak rise {rise} >= the new state {new}: the old cache was alive")

    def greedy(self, lm32) -> None:
        """fp32 greedy: albumgen's tokens against transformers' generate."""
        n = self.z.greedy_steps
        _, want = rt.time_transformers(lm32, rt.PROMPTS[:2], n, greedy=True)
        _, got = rt.time_albumgen(self.loop(lm32), rt.PROMPTS[:2], n, greedy=True)
        verdict = first_difference(got, want.to(got.device))
        print(f"greedy fp32, {lm32.model_id}, {got.shape[-1]} frames: albumgen vs transformers: {verdict}")
        if verdict != "identical":
            self.fail(f"greedy fp32 tokens differ from transformers': {verdict}")


def first_difference(a: torch.Tensor, b: torch.Tensor) -> str:
    same = (a == b).reshape(-1, a.shape[-1]).all(dim=0)
    return "identical" if same.all() else f"first difference at frame {int((~same).nonzero()[0])}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("which", choices=["small", "medium"])
    ap.add_argument("--dry-run", action="store_true", help="the tiny model on CPU, tiny sizes: every line runs")
    args = ap.parse_args()
    import transformers

    transformers.logging.set_verbosity_error()
    z = DRY if args.dry_run else REAL
    if z.device == "cuda" and not torch.cuda.is_available():
        print("FAIL: CUDA is not available to torch (use --dry-run on a machine without a GPU)")
        return 1
    if z.device == "cpu":
        torch.set_num_threads(1)
    checks = Checks(z)
    t0 = time.perf_counter()
    if args.which == "medium":
        lm = rt.load(z.medium, z.device, torch.bfloat16)
        loop = checks.loop(lm)
        checks.memory_and_speed(lm, loop)
        checks.shapes(lm, loop)
    else:
        lm32 = rt.load(z.small, z.device, torch.float32)
        checks.greedy(lm32)
        del lm32
        lm = rt.load(z.small, z.device, torch.bfloat16)
        checks.invariance(lm)
        checks.growth(lm)
    print(f"{args.which}: {time.perf_counter() - t0:.0f} s, {len(checks.failed)} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
