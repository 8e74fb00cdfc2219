"""Everything worth measuring on a GPU, in one process, most valuable first, inside a deadline.

    PYTHONPATH=src python bench/gpu_check.py               # on the GPU machine (bench/gpu_check.sh)
    PYTHONPATH=src python bench/gpu_check.py --dry-run     # anywhere: tiny models on CPU, every item runs

A rented GPU often comes with minutes, not hours, and a command that is killed returns nothing it
did not write. So: one process with its own deadline (GPU_CHECK_DEADLINE, default 420 s)
that skips what is left near it instead of being killed; each long measurement is cut at
its own time limit and reported as partial; each result is printed as it comes and appended
to $OUT/results.csv; $OUT/summary.md (tables to paste) is rewritten after every item, and
$OUT/log.txt holds the whole output. An item that raises is reported in one line and the
next one runs.

Items, in order: the environment (versions, GPU, measured copy bandwidth, the attention
kernels and kernels per step of one profiled step); the CUDA tests; the speed sweep with
CUDA graphs in bf16 over full 30 s windows (1,500 frames, 32-token prompts; steady ms/step
with the captures excluded, takes/s, peak memory, state bytes, the bandwidth floor and its
share); graphs off; transformers' `generate` against albumgen's first 256 steps; numerics
(greedy agreement bf16 vs fp32, against transformers; sampled bf16 vs fp32); batch
invariance (neighbours, padding rows, a second run, graphs off) with both decode attentions,
torch's SDPA and the row-wise one (fast.rowwise_attention), and state growth; batch_size auto
against the measured peak; the decode attention with other kernels forced (math, cuDNN,
memory-efficient: only around the decoder, the text encoder keeps its own) and the row-wise
attention's speed; ACE-Step, when diffusers is importable.

It imports only what the GPU image has (torch, transformers, numpy, pyyaml, pytest; no
install: albumgen from src/). Models are the real architectures with random weights built in
code: speed, memory and kernels depend on shapes, not on weight values.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import csv
import gc
import os
import platform
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
if str(ROOT / "src") not in sys.path:
    sys.path.insert(1, str(ROOT / "src"))  # from the source tree: the GPU machine has no install
import ops_per_step  # noqa: E402
import render_throughput as rt  # noqa: E402

from albumgen.models.fast import FastLoop, delays  # noqa: E402
from albumgen.models.sampling import Sampling  # noqa: E402

# Real MusicGen prompts run through T5 are ~20-40 tokens; the byte tokenizer of these
# random-weight models makes one token per byte, so 31 bytes + eos: 32 tokens, one text bucket.
PROMPTS = [p[:31] for p in (
    "80s pop track with bassy drums and synth", "lofi slow bpm electro chill with organic samples",
    "epic orchestral score with brass and timpani", "acoustic folk with fingerpicked guitar",
    "dark techno at 130 bpm with a rolling bassline", "warm ambient pads, distant choir, soft rain",
    "jazz trio with brushed drums and upright bass", "string quartet, pizzicato, playful and light")]
LONG = "a very long prompt about a bright synthwave anthem with gated drums, arpeggiated bass and neon pads"
H100_TRANSFORMERS = {("medium", 32): 89.0, ("small", 1): 68.0}  # ms/step, generate on an H100 (the anchors)
GOALS = {("medium", 32): 9.0, ("small", 1): 3.0}  # ms/step over a full window
COLUMNS = ["section", "item", "model", "dtype", "batch", "graphs", "steps", "ms_step", "takes_s", "audio_s_s",
           "peak_gib", "state_gib", "floor_ms", "of_floor", "value", "status", "note"]


@dataclass
class Plan:
    device: str
    models: dict  # small/medium/large -> the model built for it
    frames: int  # a full window's frames
    sweep: list  # (model, batch, seconds allowed), most valuable first
    eager: list  # (model, batch, seconds allowed): graphs off
    tf: list  # (model, batch): transformers' generate against albumgen
    attention: list  # (model, batch, SDPA backend, seconds allowed)
    tf_steps: int
    tf_warm: int
    num_frames: int  # numerics: frames compared
    num_batch: int
    num_tf_steps: int
    inv_frames: int
    inv_batch: int
    tests_s: int
    profile_at: int  # the position of the profiled step
    ace_seconds: float
    ace_steps: int
    batch_cap: int | None = None  # dry run: batches shrink to this


REAL = Plan("cuda", {"small": "small", "medium": "medium", "large": "large"}, 1500,
            # Seconds allowed per row: the anchors (medium b32, small b1) always get their full
            # window; the others are cut (reported partial) so that the items after them run.
            sweep=[("medium", 32, 100), ("small", 1, 45), ("small", 8, 15), ("small", 32, 15), ("small", 64, 20),
                   ("medium", 1, 15), ("medium", 8, 15), ("medium", 64, 25),
                   ("large", 1, 15), ("large", 32, 20), ("large", 64, 25)],
            eager=[("small", 1, 15), ("medium", 32, 15)],
            # The decode attention: the sweep's rows run SDPA's own choice (cuDNN's fused kernel
            # on an H200); ROWWISE is fast.rowwise_attention (batched matmuls, no fused kernel),
            # the others force one SDPA backend around the decoder only.
            attention=[("small", 1, "ROWWISE", 15), ("medium", 32, "ROWWISE", 20), ("small", 1, "MATH", 10),
                       ("small", 1, "CUDNN_ATTENTION", 10), ("small", 1, "EFFICIENT_ATTENTION", 10),
                       ("medium", 8, "ROWWISE", 10), ("medium", 8, "CUDNN_ATTENTION", 10)],
            tf=[("small", 1), ("small", 8), ("medium", 32)], tf_steps=256, tf_warm=16,
            num_frames=500, num_batch=4, num_tf_steps=128, inv_frames=300, inv_batch=8, tests_s=150,
            profile_at=700, ace_seconds=180.0, ace_steps=8)
DRY = Plan("cpu", {"small": "tiny", "medium": "tiny", "large": "tiny"}, 12,
           sweep=REAL.sweep, eager=REAL.eager, tf=REAL.tf,
           attention=[("small", 1, "MATH", 12), ("small", 1, "ROWWISE", 12)], tf_steps=10, tf_warm=2,
           num_frames=12, num_batch=2, num_tf_steps=10, inv_frames=10, inv_batch=4, tests_s=120,
           profile_at=8, ace_seconds=4.0, ace_steps=2, batch_cap=4)


class Cut(Exception):
    """A measurement reached its own time limit: what it measured so far is reported."""


class Check:
    def __init__(self, plan: Plan, out: Path, deadline: float):
        self.p = plan
        self.out = out
        self.t0 = time.monotonic()
        self.deadline = deadline
        self.rows: list[dict] = []
        self.failed: list[str] = []
        self.models: dict = {}
        self.bw = (0.0, "")
        self.mem_total = 0
        self.only: set[str] = set()  # sections to run (--only); empty: all
        out.mkdir(parents=True, exist_ok=True)
        self.log = open(out / "log.txt", "a", encoding="utf-8")  # noqa: SIM115 - open for the whole run
        new = not (out / "results.csv").exists()
        self.csv_file = open(out / "results.csv", "a", newline="", encoding="utf-8")  # noqa: SIM115
        self.csv = csv.DictWriter(self.csv_file, COLUMNS)
        if new:
            self.csv.writeheader()

    # -- output -------------------------------------------------------------------------
    def say(self, line: str) -> None:
        stamp = f"[{time.monotonic() - self.t0:6.1f}s] "
        print(stamp + line, flush=True)
        self.log.write(stamp + line + "\n")
        self.log.flush()

    def row(self, section: str, item: str, **values) -> dict:
        r = {c: values.get(c, "") for c in COLUMNS}
        r.update(section=section, item=item, status=values.get("status", "ok"))
        for k, v in r.items():
            if isinstance(v, float):
                r[k] = f"{v:.4g}"
        self.rows.append(r)
        self.csv.writerow(r)
        self.csv_file.flush()
        if r["status"] == "FAIL":
            self.failed.append(f"{section}/{item}: {r['note']}")
        shown = ", ".join(f"{k}={v}" for k, v in r.items() if v != "" and k not in ("section", "item"))
        self.say(f"{section}: {item}: {shown}")
        return r

    def left(self) -> float:
        return self.deadline - (time.monotonic() - self.t0)

    # -- device helpers -----------------------------------------------------------------
    def cuda(self) -> bool:
        return self.p.device == "cuda"

    def sync(self) -> None:
        if self.cuda():
            torch.cuda.synchronize()

    def reset_peak(self) -> None:
        if self.cuda():
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()

    def peak_gib(self):
        if not self.cuda():
            return ""
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() / 2**30

    def free(self) -> None:
        if self.cuda():  # a state or model held in a cycle would keep gigabytes (a CPU dry run has none)
            gc.collect()
            torch.cuda.empty_cache()

    def model(self, name: str, dtype=torch.bfloat16):
        """Built once and kept (small and medium fit beside any state on a big GPU)."""
        key = (name, dtype)
        if key not in self.models:
            if name == "large":  # large only for its own rows: drop it before it is rebuilt
                for k in [k for k in self.models if k[0] == "large"]:
                    del self.models[k]
            self.free()
            torch.manual_seed(0)
            t = time.perf_counter()
            self.models[key] = rt.load(self.p.models[name], self.p.device, dtype)
            self.say(f"built {name} ({self.p.models[name]}, {str(dtype).replace('torch.', '')}) "
                     f"in {time.perf_counter() - t:.1f} s")
        return self.models[key]

    def drop(self, name: str) -> None:
        for k in [k for k in self.models if k[0] == name]:
            del self.models[k]
        self.free()

    def batch(self, b: int) -> int:
        return min(b, self.p.batch_cap) if self.p.batch_cap else b

    # -- the runner ---------------------------------------------------------------------
    def item(self, section: str, name: str, need: float, fn, *args) -> None:
        """Run one item if `need` seconds are left; an error is one line, and the run goes on."""
        if self.only and section not in self.only:
            return
        if self.left() < need:
            self.row(section, name, status="skipped", note=f"{self.left():.0f} s left of the deadline, needs ~{need:.0f} s")
            return
        t = time.perf_counter()
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - one failed item must not cost the others
            self.log.write(traceback.format_exc())
            oom = isinstance(e, torch.OutOfMemoryError) or "out of memory" in str(e).lower()
            self.row(section, name, status="error", note=f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"
                     + (" (out of memory)" if oom else ""))
        finally:
            self.free()
            self.write_summary()
        self.say(f"{section}: {name}: {time.perf_counter() - t:.1f} s")

    # -- environment --------------------------------------------------------------------
    def environment(self) -> None:
        import numpy
        import transformers

        env = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
               "transformers": transformers.__version__, "numpy": numpy.__version__}
        if self.cuda():
            props = torch.cuda.get_device_properties(0)
            self.mem_total = props.total_memory
            env.update(gpu=props.name, sm=props.multi_processor_count, capability=f"{props.major}.{props.minor}",
                       memory_gib=round(props.total_memory / 2**30, 1), cudnn=torch.backends.cudnn.version())
            try:
                driver = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                        capture_output=True, text=True, timeout=15).stdout.strip()
                env["driver"] = driver
            except (OSError, subprocess.SubprocessError) as e:
                env["driver"] = f"nvidia-smi: {type(e).__name__}"
        for k, v in env.items():
            self.row("env", k, value=v)
        measured = self.copy_bandwidth()
        spec, how = rt.bandwidth_gbs(self.p.device) if self.cuda() else (measured, "measured by copy")
        self.bw = (spec, how)
        self.row("env", "bandwidth", value=f"{measured:.0f}",
                 note=f"GB/s measured by a 1 GiB copy; floors use {spec:.0f} GB/s ({how})")

    def copy_bandwidth(self) -> float:
        n = (256 << 20) if self.cuda() else (16 << 20)  # floats: 1 GiB on a GPU, past any cache
        x = torch.ones(n, dtype=torch.float32, device=self.p.device)
        y = torch.empty_like(x)
        y.copy_(x)
        self.sync()
        reps = 10 if self.cuda() else 2
        t = time.perf_counter()
        for _ in range(reps):
            y.copy_(x)
        self.sync()
        gbs = reps * 2 * x.nbytes / (time.perf_counter() - t) / 1e9
        del x, y
        return gbs

    def profile(self, name: str, batch: int, attention: str = "sdpa") -> None:
        """One eager decoding step at a mid-window position: aten ops (TorchDispatchMode) and,
        on CUDA, the kernels it launches and which attention kernels they are."""
        lm = self.model(name)
        b = self.batch(batch)
        loop = FastLoop(lm, graphs=False, attention=attention)
        at = self.p.profile_at
        tag = f"{name} b{b}" + ("" if attention == "sdpa" else f" {attention}")
        ops = ops_per_step.step_ops(loop, b, position=at, frames=self.p.frames)
        compute = sum(n for op, n in ops.items() if op not in ops_per_step.VIEWS)
        self.row("env", f"aten ops/step {tag}", model=name, batch=b, value=compute,
                 note=f"{sum(ops.values())} with views; one eager step at position {at}")
        if not self.cuda():
            self.row("env", f"kernels/step {tag}", model=name, batch=b, status="skipped", note="no kernels on cpu")
            loop.reset()
            return
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as torch_profile

        (st,) = loop._states.values()
        length = loop._bucket(at + 1, st.max_pos)
        s = Sampling()
        st.pos.fill_(at)
        loop._step(st, length, s)  # warm: lazy inits and autotuning stay out of the profile
        st.pos.fill_(at)
        torch.cuda.synchronize()
        with torch_profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            loop._step(st, length, s)
            torch.cuda.synchronize()
        cuda = torch.autograd.DeviceType.CUDA
        try:  # kineto's raw events: every kernel, memset and copy the step put on the device
            kernels = [(e.name(), e.duration_ns() / 1e3) for e in prof.profiler.kineto_results.events()
                       if e.device_type() == cuda]
        except AttributeError:
            kernels = [(e.name, e.time_range.elapsed_us()) for e in prof.events() if e.device_type == cuda]
        names = [n for n, _ in kernels]
        gpu_us = sum(us for _, us in kernels)
        # The row-wise attention runs batched GEMMs and a softmax: name those (and any fused
        # attention kernel, which must then be absent).
        words = ("attention", "fmha", "flash", "sdpa", "attn") + (("softmax", "gemv", "gemm", "bmm")
                                                                  if attention == "rowwise" else ())
        attn = sorted({n for n in names if any(w in n.lower() for w in words)})
        self.row("env", f"kernels/step {tag}", model=name, batch=b, value=len(names),
                 note=f"kernel time {gpu_us / 1e3:.2f} ms in one eager step at position {at}")
        self.row("env", f"attention kernels {tag}", model=name, batch=b, value=len(attn),
                 note=" | ".join(a[:90] for a in attn)[:600])
        loop.reset()

    # -- the CUDA tests ------------------------------------------------------------------
    def tests(self) -> None:
        limit = max(10, min(self.p.tests_s, self.left() - 30))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
        cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "tests/models/test_models_gpu.py"]
        try:
            done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=limit)
            out, rc = done.stdout + done.stderr, done.returncode
        except subprocess.TimeoutExpired as e:
            text = e.stdout or ""
            out, rc = (text.decode(errors="replace") if isinstance(text, bytes) else text), f"timeout after {limit:.0f} s"
        self.log.write(out)
        lines = [line for line in out.splitlines() if line.strip()]
        tail = lines[-1] if lines else "(no output)"
        for line in lines:
            if line.startswith(("FAILED", "ERROR", "SKIPPED")):
                self.say("tests: " + line[:300])
        # On a GPU a test skipped for want of CUDA means torch cannot use it: a failure. Other
        # skips say why in their line (a transformers release without some behaviour).
        no_cuda = self.cuda() and "needs CUDA" in out
        ok = rc == 0 and not no_cuda
        self.row("tests", "tests/models/test_models_gpu.py", value=tail.strip("= ")[:200],
                 status="ok" if ok else "FAIL", note=f"exit {rc}" + (" (skipped: no CUDA for pytest)" if no_cuda else ""))

    # -- speed --------------------------------------------------------------------------
    def speed(self, section: str, name: str, batch: int, graphs: bool, limit: float, frames: int | None = None,
              steps_note: str = "", backend: str | None = None) -> dict:
        """One full window at `batch` in bf16: steady ms/step is the wall time less the graph
        captures (each timed with syncs around it), over the steps decoded. backend: the decode
        attention (make_loop: ROWWISE, or one SDPBackend forced), captured as chosen."""
        lm = self.model(name)
        b = self.batch(batch)
        frames = frames or self.p.frames
        loop = make_loop(lm, graphs, backend)  # on CPU, graphs=True runs the stand-in capture path
        capture = [0.0, 0]
        real = loop._graph

        def timed_capture(st, length, s):
            self.sync()
            t = time.perf_counter()
            try:
                return real(st, length, s)
            finally:
                self.sync()
                capture[0] += time.perf_counter() - t
                capture[1] += 1

        loop._graph = timed_capture
        total = frames + max(delays(lm.num_codebooks, lm.channels))
        done = [0]
        end = time.monotonic() + max(0.0, min(limit, self.left() - 5))

        def on_step(i, n):
            done[0] = i
            if time.monotonic() > end and i < n:
                raise Cut

        prompts = [PROMPTS[i % len(PROMPTS)] for i in range(b)]
        self.free()
        self.reset_peak()
        base = torch.cuda.memory_allocated() / 2**30 if self.cuda() else 0.0
        partial = False
        t = time.perf_counter()
        try:
            loop.generate(prompts, list(range(b)), frames, Sampling(), on_step=on_step)
        except Cut:
            partial = True
        self.sync()
        wall = time.perf_counter() - t
        steps = max(done[0], 1)
        ms = (wall - capture[0]) / steps * 1e3
        peak = self.peak_gib()
        state = loop.held_bytes() / 2**30
        fl = rt.floor_ms(lm, b, total, 32, self.bw[0]) if self.bw[0] else 0.0
        takes_s = b / (ms * total / 1e3)
        graphs_on = bool(loop.use_graphs and not any(st.eager for st in loop._states.values()))
        note = (f"partial: {steps} of {total} steps in {limit:.0f} s; " if partial else "") + \
            f"capture {capture[0]:.1f} s for {capture[1]} graphs; weights+state base {base:.2f} GiB" + steps_note
        if loop.graphs_off:
            note += f"; graphs_off: {loop.graphs_off}"
        r = self.row(section, f"{name} b{b}" + ("" if graphs else " eager") + (f" {backend}" if backend else ""),
                     model=name, dtype="bf16", batch=b,
                     graphs="on" if graphs_on else "off", steps=steps, ms_step=ms, takes_s=takes_s,
                     audio_s_s=takes_s * frames / lm.frame_rate, peak_gib=peak, state_gib=state, floor_ms=fl,
                     of_floor=f"{fl / ms:.1%}" if fl else "",
                     status="partial" if partial else "ok", note=note)
        if graphs and self.cuda() and not graphs_on:
            self.row(section, f"{name} b{b} graphs", status="FAIL", note=f"graphs went off: {loop.graphs_off}")
        goal = GOALS.get((name, batch))
        if goal and self.cuda() and not partial:
            anchor = H100_TRANSFORMERS[(name, batch)]
            self.row(section, f"{name} b{b} vs anchors", model=name, batch=b, ms_step=ms,
                     value=f"{anchor / ms:.1f}x transformers-on-H100 ({anchor:.0f} ms/step)",
                     status="ok" if ms <= goal else "over goal", note=f"goal <= {goal:.0f} ms/step")
        loop.reset()
        del loop
        return r

    # -- transformers side by side ------------------------------------------------------
    def versus_transformers(self, name: str, batch: int) -> None:
        from transformers import StoppingCriteria, StoppingCriteriaList

        lm = self.model(name)
        b = self.batch(batch)
        n = self.p.tf_steps
        prompts = [PROMPTS[i % len(PROMPTS)] for i in range(b)]
        end = time.monotonic() + max(5.0, self.left() - 10)

        class Deadline(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                return torch.full((input_ids.shape[0],), time.monotonic() > end, dtype=torch.bool,
                                  device=input_ids.device)

        stop = StoppingCriteriaList([Deadline()])
        rt.time_transformers(lm, prompts, self.p.tf_warm, greedy=False, stopping_criteria=stop)
        took, codes = rt.time_transformers(lm, prompts, n, greedy=False, stopping_criteria=stop)
        steps = codes.shape[-1] + max(delays(lm.num_codebooks, lm.channels))  # frames back to steps
        tf_ms = took / max(steps, 1) * 1e3
        loop = FastLoop(lm)
        frames = n - max(delays(lm.num_codebooks, lm.channels))
        loop.generate(prompts, list(range(b)), frames, Sampling())  # warm-up: captures, allocations
        self.sync()
        t = time.perf_counter()
        loop.generate(prompts, list(range(b)), frames, Sampling())
        self.sync()
        ag_ms = (time.perf_counter() - t) / n * 1e3
        loop.reset()
        partial = steps < n
        self.row("transformers", f"{name} b{b}", model=name, dtype="bf16", batch=b, steps=steps, ms_step=tf_ms,
                 value=f"albumgen {ag_ms:.2f} ms/step: {tf_ms / ag_ms:.1f}x", status="partial" if partial else "ok",
                 note=f"transformers generate (sampled, CFG 3, top-k 250) vs albumgen's first {n} steps, both after warm-up"
                 + (f"; generate stopped at {steps} steps by the deadline" if partial else ""))

    # -- numerics -----------------------------------------------------------------------
    def numerics(self) -> None:
        """small, the same random weights in fp32 and bf16."""
        lm32 = self.model("small", torch.float32)
        lm16 = copy.copy(lm32)
        lm16.model = copy.deepcopy(lm32.model).to(torch.bfloat16)
        lm16.dtype = torch.bfloat16
        b = self.batch(self.p.num_batch)
        prompts = [PROMPTS[i % len(PROMPTS)] for i in range(b)]
        seeds = [100 + i for i in range(b)]
        f = self.p.num_frames
        for what, s in (("greedy", Sampling(greedy=True)), ("sampled top-k 250", Sampling())):
            a32 = FastLoop(lm32).generate(prompts, seeds, f, s)
            a16 = FastLoop(lm16).generate(prompts, seeds, f, s)
            self.row("numerics", f"albumgen bf16 vs fp32, {what}", model="small", batch=b, steps=f,
                     value=agreement(a16, a32), note=first_difference(a16, a32))
            # The row-wise attention rounds its scores to bf16 (a fused kernel keeps float32):
            # its agreement with fp32 beside SDPA's says what that costs.
            r16 = FastLoop(lm16, attention="rowwise").generate(prompts, seeds, f, s)
            self.row("numerics", f"albumgen bf16 rowwise vs fp32, {what}", model="small", batch=b, steps=f,
                     value=agreement(r16, a32), note=first_difference(r16, a32))
        n = self.p.num_tf_steps
        fr = n - max(delays(lm16.num_codebooks, lm16.channels))
        for label, lm in (("bf16", lm16), ("fp32", lm32)):
            _, want = rt.time_transformers(lm, prompts[:2], n, greedy=True)
            got = FastLoop(lm).generate(prompts[:2], [0, 1], fr, Sampling(greedy=True))
            want = want.to(got.device)[..., :got.shape[-1]]
            verdict = first_difference(got, want)
            status = "FAIL" if label == "fp32" and verdict != "identical" and not self.cuda() else "ok"
            self.row("numerics", f"albumgen vs transformers greedy {label}", model="small", batch=2, steps=n,
                     value=agreement(got, want), status=status, note=verdict)
        del lm16
        self.models.pop(("small", torch.float32), None)

    # -- invariance and growth ----------------------------------------------------------
    def invariance(self, backend: str | None = None) -> None:
        """bf16: a take at a fixed row count does not depend on its neighbours nor on its own
        text bucket (what a set render.batch_size promises); alone (another row count) is measured.
        Also the same batch again (a difference there is nondeterminism, not a neighbour) and
        without graphs (a difference there is a kernel the capture chose otherwise). backend:
        the decode attention (make_loop): SDPA's own choice, ROWWISE, or one SDPA backend."""
        lm = self.model("small")
        b = self.batch(self.p.inv_batch)
        f = self.p.inv_frames
        loop = make_loop(lm, True, backend)
        s = Sampling()
        prompts = [PROMPTS[i % len(PROMPTS)] for i in range(b - 1)] + [LONG]
        seeds = [1000 + i for i in range(b)]
        batch = loop.generate(prompts, seeds, f, s)
        again = first_difference(loop.generate(prompts, seeds, f, s), batch)
        eager = first_difference(make_loop(lm, False, backend).generate(prompts, seeds, f, s), batch)
        for i in (0, b - 1):
            others = [p for j, p in enumerate(prompts) if j != i][::-1]
            alone = loop.generate(prompts[i:i + 1], seeds[i:i + 1], f, s)
            moved = loop.generate(prompts[i:i + 1] + others, seeds[i:i + 1] + [5000 + j for j in range(len(others))], f, s)
            padded = loop.generate(prompts[i:i + 1], seeds[i:i + 1], f, s, rows=b)
            got = {"alone": first_difference(alone[0], batch[i]), "other neighbours": first_difference(moved[0], batch[i]),
                   "alone padded": first_difference(padded[0], batch[i]), "batch again": again, "graphs off": eager}
            bad = [k for k in ("other neighbours", "alone padded", "batch again", "graphs off") if got[k] != "identical"]
            self.row("checks", f"invariance {backend or 'sdpa'} take {i} at {b} rows", model="small", batch=b, steps=f,
                     value="; ".join(f"{k}: {v}" for k, v in got.items()), status="FAIL" if bad else "ok",
                     note=f"must be identical: {', '.join(bad)}" if bad
                     else "alone (another row count) is measured, not required")
        loop.reset()

    def growth(self) -> None:
        """Short prompts, then >32-token ones at one batch: the state grows (text bucket 32 ->
        64+) and the old one is freed before the new one is allocated."""
        lm = self.model("small")
        b = self.batch(self.p.inv_batch)
        loop = FastLoop(lm)
        loop.generate(["jazz trio"] * b, list(range(b)), self.p.inv_frames, Sampling())
        old = loop.held_bytes()
        self.reset_peak()
        base = torch.cuda.memory_allocated() if self.cuda() else 0
        loop.generate([LONG] * b, list(range(b)), self.p.inv_frames, Sampling())
        new = loop.held_bytes()
        (st,) = loop._states.values()
        rise = (torch.cuda.max_memory_allocated() - base) if self.cuda() else None
        bad = []
        if st.ck.shape[3] <= 32:
            bad.append("the long prompts stayed in the 32-token bucket")
        if rise is not None and rise >= new:
            bad.append(f"peak rise {rise / 2**20:.0f} MiB >= the new state {new / 2**20:.0f} MiB: both were alive")
        self.row("checks", f"growth b{b}", model="small", batch=b,
                 value=f"state {old / 2**20:.1f} -> {new / 2**20:.1f} MiB; peak rise "
                 + ("n/a on cpu" if rise is None else f"{rise / 2**20:.1f} MiB"),
                 status="FAIL" if bad else "ok", note="; ".join(bad) or "old state freed first")
        loop.reset()

    # -- batch_size auto ----------------------------------------------------------------
    def auto_batch(self) -> None:
        """The batch `render.batch_size: auto` picks for medium on this GPU, and the peak
        measured with that batch's full-window state allocated (50 steps decoded)."""
        lm = self.model("medium")
        share, cap = engine_constants()
        loop = FastLoop(lm)
        take = loop.kv_bytes_per_take(self.p.frames, cfg=True)
        if self.cuda():
            self.free()
            free, total = torch.cuda.mem_get_info()
        else:
            free, total = 8 * self.p.num_batch * take, 0
        auto = max(1, min(int(free * share // take), cap))
        b = self.batch(auto)
        self.reset_peak()
        steps = [0]

        def stop(i, n):
            steps[0] = i
            if i >= 50 and i < n:
                raise Cut

        with contextlib.suppress(Cut):
            loop.generate([PROMPTS[i % len(PROMPTS)] for i in range(b)], list(range(b)), self.p.frames, Sampling(),
                          on_step=stop)
        peak = self.peak_gib()
        held = loop.held_bytes()
        self.row("checks", f"auto batch medium b{b}", model="medium", batch=b, steps=steps[0], peak_gib=peak,
                 state_gib=held / 2**30,
                 value=f"free {free / 2**30:.1f} GiB x {share} / {take / 2**20:.1f} MiB per take -> {auto} (cap {cap})",
                 note=(f"peak {peak:.1f} of {total / 2**30:.1f} GiB ({peak * 2**30 / total:.0%}); state / budget "
                       f"{held / (b * take):.2f}") if self.cuda() else "cpu: no device memory")
        loop.reset()

    # -- ACE-Step -----------------------------------------------------------------------
    def acestep(self) -> None:
        import importlib.util

        if importlib.util.find_spec("diffusers") is None:
            self.row("acestep", "song", status="skipped", note="diffusers is not importable here")
            return
        from acestep_check import time_song  # noqa: PLC0415 - only where diffusers is

        r = time_song(self.p.device, self.p.ace_seconds, self.p.ace_steps)
        self.row("acestep", r.pop("item"), **r)

    # -- summary ------------------------------------------------------------------------
    def write_summary(self) -> None:
        lines = [f"# GPU check ({time.monotonic() - self.t0:.0f} s of a {self.deadline:.0f} s deadline)", ""]
        sections = []
        for r in self.rows:
            if r["section"] not in sections:
                sections.append(r["section"])
        for sec in sections:
            rows = [r for r in self.rows if r["section"] == sec]
            cols = [c for c in COLUMNS[1:] if any(r[c] != "" for r in rows)]
            lines += [f"## {sec}", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
            lines += ["| " + " | ".join(str(r[c]).replace("|", "/") for c in cols) + " |" for r in rows]
            lines.append("")
        if self.failed:
            lines += ["## failed", ""] + [f"- {f}" for f in self.failed] + [""]
        tmp = self.out / "summary.md.tmp"
        tmp.write_text("\n".join(lines), "utf-8")
        os.replace(tmp, self.out / "summary.md")

    def close(self) -> None:
        self.write_summary()
        self.csv_file.close()
        self.log.close()


def engine_constants() -> tuple[float, int]:
    """GPU_MEMORY_SHARE and MAX_BATCH of the render engine, read from its source: the engine
    module imports the config schema (pydantic), which the GPU image lacks."""
    import ast

    found = {}
    for path in sorted((ROOT / "stages").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                    and node.targets[0].id in ("GPU_MEMORY_SHARE", "MAX_BATCH") and isinstance(node.value, ast.Constant):
                found.setdefault(node.targets[0].id, node.value.value)
    return found.get("GPU_MEMORY_SHARE", 0.8), found.get("MAX_BATCH", 64)


def attention_backend(name: str | None):
    """torch.nn.attention.sdpa_kernel(SDPBackend.<name>), or nothing."""
    if not name:
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel(getattr(SDPBackend, name))


def make_loop(lm, graphs: bool, backend: str | None = None) -> FastLoop:
    """A loop with its decode attention chosen: None (SDPA picks its kernel), ROWWISE
    (fast.rowwise_attention), or an SDPBackend's name forced around the decoder's layers only,
    in eager steps and captures alike: the text encoder (T5, whose mask no fused kernel takes)
    keeps SDPA's own choice."""
    if backend == "ROWWISE":
        return FastLoop(lm, graphs=graphs, attention="rowwise")
    loop = FastLoop(lm, graphs=graphs)
    if backend:
        layers = loop._layers

        def forced(*args, **kwargs):
            with attention_backend(backend):
                return layers(*args, **kwargs)

        loop._layers = forced
    return loop


def agreement(a: torch.Tensor, b: torch.Tensor) -> str:
    return f"{(a == b).float().mean().item():.1%} of tokens agree"


def first_difference(a: torch.Tensor, b: torch.Tensor) -> str:
    same = (a == b).reshape(-1, a.shape[-1]).all(dim=0)
    return "identical" if same.all() else f"first difference at frame {int((~same).nonzero()[0])}"


def run(check: Check) -> None:
    p = check.p
    check.item("env", "environment", 5, check.environment)
    check.item("env", "profile small b1", 20, check.profile, "small", 1)
    check.item("env", "profile medium b32", 25, check.profile, "medium", 32)
    check.item("env", "profile small b1 rowwise", 10, check.profile, "small", 1, "rowwise")
    check.item("tests", "CUDA tests", 40, check.tests)
    for name, b, limit in p.sweep:
        check.item("sweep", f"{name} b{b}", min(limit, 15), check.speed, "sweep", name, b, True, limit)
        if name == "large" and b == 64:
            check.drop("large")
    check.drop("large")
    for name, b, limit in p.eager:
        check.item("graphs off", f"{name} b{b}", min(limit, 10), check.speed, "graphs off", name, b, False, limit)
    for name, b in p.tf:
        check.item("transformers", f"{name} b{b}", 25, check.versus_transformers, name, b)
    check.item("numerics", "numerics", 30, check.numerics)
    # SDPA's own choice (cuDNN's fused kernel on an H200), the row-wise attention, and SDPA's
    # MATH backend: which of them keeps a take independent of its batch.
    for backend in (None, "ROWWISE", "MATH"):
        check.item("checks", f"invariance {backend or 'sdpa'}", 15, check.invariance, backend)
    check.item("checks", "growth", 8, check.growth)
    check.item("checks", "auto batch", 10, check.auto_batch)
    for name, b, backend, limit in p.attention:
        check.item("attention", f"{name} b{b} {backend}", 8, check.speed, "attention", name, b, True, limit, None, "",
                   backend)
    check.item("acestep", "ACE-Step", 30, check.acestep)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dry-run", action="store_true", help="tiny models on CPU, tiny sizes: every item runs")
    ap.add_argument("--deadline", type=float, default=float(os.environ.get("GPU_CHECK_DEADLINE", 420)),
                    help="seconds for the whole check (env GPU_CHECK_DEADLINE; default 420)")
    ap.add_argument("--out", default=os.environ.get("OUT") or "gpu-check", help="folder for results (env OUT)")
    ap.add_argument("--only", default="", help="comma-separated sections to run (env, tests, sweep, 'graphs off', "
                    "transformers, numerics, checks, acestep); default all")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import transformers

    transformers.logging.set_verbosity_error()
    plan = DRY if args.dry_run else REAL
    check = Check(plan, Path(args.out), args.deadline)
    check.only = {x.strip() for x in args.only.split(",") if x.strip()}
    if plan.device == "cuda" and not torch.cuda.is_available():
        check.row("env", "cuda", status="FAIL", note=f"torch {torch.__version__} sees no CUDA device (--dry-run elsewhere)")
        check.close()
        return 1
    if plan.device == "cpu":
        torch.set_num_threads(1)
    check.say(f"gpu check: {'dry run (tiny models, cpu)' if args.dry_run else 'cuda'}, deadline {args.deadline:.0f} s, "
              f"results in {check.out}/")
    try:
        run(check)
    finally:
        check.say(f"done in {time.monotonic() - check.t0:.0f} s: {len(check.rows)} rows, {len(check.failed)} failed"
                  + "".join(f"\nFAILED {f}" for f in check.failed))
        check.close()
    return 1 if check.failed else 0


if __name__ == "__main__":
    sys.exit(main())
