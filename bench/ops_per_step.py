"""aten ops one decoding step of albumgen's loop dispatches, counted on any device.

    .venv/bin/python bench/ops_per_step.py                 # small and medium, CPU
    .venv/bin/python bench/ops_per_step.py --model tiny --verbose

Inside a CUDA graph each op is at least one kernel (1.5-2.5 us of launch and tail each),
so the count is a floor on a step's time that no batch size or bandwidth removes. Counted
with a TorchDispatchMode: every aten call the step makes, as the GPU would run it (views
included: they are cheap, and counted so that a change that trades a kernel for three views
shows). The count depends on the depth, codebooks and sampling, not on the width, so the
default builds the real depth and vocabulary at a narrow width (--width real: the real
architectures, minutes and gigabytes on a CPU). Sampling is a render's default: CFG 3,
top-k 250. A benchmark, not a test: nothing here asserts a count.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
import render_throughput as rt  # noqa: E402

from albumgen.models.fast import FastLoop  # noqa: E402
from albumgen.models.sampling import Sampling  # noqa: E402

VIEWS = {"view", "_unsafe_view", "as_strided", "slice", "select", "unsqueeze", "squeeze", "expand", "transpose",
         "t", "permute", "split", "split_with_sizes", "alias", "detach", "unbind", "reshape"}


class _Count(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops: Counter = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))


class _Primed(Exception):
    pass


def prime(loop: FastLoop, batch: int, s: Sampling, frames: int) -> None:
    """A state for `batch` takes and a window of `frames` (32-token prompts, as real T5
    prompts are), after 25 decoded steps: the cache is allocated in full, and a step's cost
    does not depend on what it holds."""
    def stop(done, total):
        if done < total:
            raise _Primed

    prompts = [("an ambient piece with pads and soft piano " * 2)[:31]] * batch
    try:
        loop.generate(prompts, list(range(batch)), frames, s, on_step=stop)
    except _Primed:
        pass


def step_ops(loop: FastLoop, batch: int, sampling: Sampling | None = None, position: int = 40,
             frames: int | None = None) -> Counter:
    """aten ops of one eager decoding step at `position` for `batch` takes (a window of
    `frames`, default position + 8)."""
    s = sampling or Sampling()
    prime(loop, batch, s, frames or position + 8)
    (st,) = loop._states.values()
    st.pos.fill_(position)
    length = loop._bucket(position + 1, st.max_pos)
    with torch.no_grad(), _Count() as count:
        loop._step(st, length, s)
    return count.ops


def narrow(name: str, device: str = "cpu", dtype=torch.float32):
    """The real depth and vocabulary of `name`, width 64: the same ops as the real model."""
    real = rt.ARCH[name]
    rt.ARCH["_narrow"] = (64, real[1], 4, 128)
    try:
        return rt.load("_narrow", device, dtype)
    finally:
        del rt.ARCH["_narrow"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", action="append", help="small, medium, large or tiny (repeatable; default small, medium)")
    ap.add_argument("--width", choices=["narrow", "real"], default="narrow")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--greedy", action="store_true", help="greedy decoding (no top-k, no noise)")
    ap.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32",
                    help="bfloat16: a GPU's dtype, with its casts (CPU runs it too)")
    ap.add_argument("--attention", choices=["sdpa", "rowwise"], default="sdpa",
                    help="the decode attention (fast.ATTENTION): SDPA, or the row-wise matmuls")
    ap.add_argument("--verbose", action="store_true", help="the count per op")
    args = ap.parse_args()
    import transformers

    transformers.logging.set_verbosity_error()
    torch.set_num_threads(1)
    s = Sampling(greedy=args.greedy)
    for name in args.model or ["small", "medium"]:
        dtype = getattr(torch, args.dtype)
        lm = rt.load(name, "cpu", dtype) if name == "tiny" or args.width == "real" else narrow(name, dtype=dtype)
        ops = step_ops(FastLoop(lm, graphs=False, attention=args.attention), args.batch, s)
        total, views = sum(ops.values()), sum(n for op, n in ops.items() if op in VIEWS)
        layers = lm.model.config.decoder.num_hidden_layers
        print(f"{name} ({layers} layers, {args.width if name != 'tiny' else 'tiny'} width, {args.dtype}), "
              f"batch {args.batch}, "
              f"{'greedy' if args.greedy else 'top-k 250'}, {args.attention} attention: {total} aten ops per step "
              f"({total - views} compute, {views} views)")
        if args.verbose:
            for op, n in ops.most_common():
                print(f"  {n:>5} {op}")


if __name__ == "__main__":
    main()
