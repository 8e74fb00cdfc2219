"""Rendering pending takes: batches across tracks, per-take seeds, tokens kept beside audio."""
from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from albumgen.audio.io import write_wav
from albumgen.engine import interrupt
from albumgen.engine.store import atomic
from albumgen.engine.store.recovery import write_sidecar
from albumgen.errors import ModelError
from albumgen.models.backend import TakeLoop, backend
from albumgen.models.fast import delays, is_out_of_memory
from albumgen.models.sampling import Sampling
from albumgen.models.tiny import PRESETS
from albumgen.models.windows import Windows, generate_long
from albumgen.stage import Context, Done, Unit

from .config import RenderConfig, no_melody
from .progress import Progress, for_build

MAX_BATCH = 64  # past this a step is compute-bound: bigger batches only add latency
CPU_BATCH = 8  # on CPU a batch is for fewer Python steps, not memory: no point sizing it
GPU_MEMORY_SHARE = 0.8  # of free memory for the caches; the rest for weights' workspaces, EnCodec


def generate_takes(loop: TakeLoop, prompts: list[str], seeds: list[int], frames: int, sampling: Sampling,
                   windows: Windows, on_step=None, rows: int | None = None, intro=None, melodies=None):
    """One batch of takes' tokens. A module-level seam: the OOM test wraps it."""
    return generate_long(loop, prompts, seeds, frames, sampling, windows, on_step, rows=rows, intro=intro,
                         melodies=melodies)


def auto_batch_size(loop: TakeLoop, window_frames: int, cfg_on: bool, pending: int) -> int:
    """Takes per batch from free accelerator memory and the KV cache bytes a take needs."""
    # An earlier round's cache (pick's retry rounds render again in this process) is memory
    # this round can use: measured while it is held, a second round would get a smaller batch.
    loop.reset()
    free = free_memory(loop.device)
    if free is None:
        return max(1, min(CPU_BATCH, pending))
    return batch_for_memory(free, loop.kv_bytes_per_take(window_frames, cfg=cfg_on), pending)


def free_memory(device) -> int | None:
    """Free accelerator bytes, None off CUDA. A module-level seam: tests model a device with it."""
    import torch

    if device.type != "cuda":
        return None
    with torch.cuda.device(device):  # the take's device: cuda:1 is not the current device
        torch.cuda.empty_cache()  # blocks the caching allocator keeps are free for the new cache
    return torch.cuda.mem_get_info(device)[0]


def batch_for_memory(free_bytes: int, take_bytes: int, pending: int) -> int:
    return max(1, min(int(free_bytes * GPU_MEMORY_SHARE // take_bytes), MAX_BATCH, pending))


def model_source(model: str, base_dir: Path) -> str:
    """A relative checkpoint folder is relative to pipeline.yaml, like every path in it."""
    local = Path(os.path.expanduser(model))
    if model not in PRESETS and not local.is_absolute() and (base_dir / local).is_dir():
        return str((base_dir / local).resolve())
    return model


def render_units(ctx: Context, cfg: RenderConfig, units: list[Unit]) -> Iterator[Done]:
    import torch

    lm, loop = _load(model_source(cfg.model, ctx.base_dir), cfg.device, cfg.dtype, cfg.backend)
    rate = lm.frame_rate
    frames = max(1, int(round(cfg.seconds * rate)))
    windows = Windows(max_frames=int(round(cfg.max_window * rate)), stride_frames=int(round(cfg.extend_stride * rate)))
    sampling = Sampling(top_k=cfg.top_k, top_p=cfg.top_p, temperature=cfg.temperature, cfg=cfg.cfg)
    window_frames = min(frames, windows.max_frames)
    batch = cfg.batch_size if isinstance(cfg.batch_size, int) else \
        auto_batch_size(loop, window_frames, cfg.cfg > 1, len(units))
    steps = windows.steps(frames, max(delays(lm.num_codebooks, lm.channels)))
    intro = None
    if cfg.intro:
        from albumgen.inputs import resolve_audio
        from albumgen.models.reference import intro_codes

        intro = intro_codes(lm, resolve_audio(ctx.base_dir, cfg.intro, "render.intro"), frames, windows.max_frames)
    melody = _melodies(ctx, cfg, lm, units)
    progress = for_build(ctx, units, frames / rate)
    ctx.event("render_batch_size", batch_size=batch, auto=cfg.batch_size == "auto", device=lm.device)
    # A set batch size is a fixed shape: a short batch is padded to it, so on CUDA (where the
    # kernels depend on the row count) a take renders the same in any round, resume or worker.
    fixed = cfg.batch_size != "auto"
    graphs_told = False
    start = 0
    while start < len(units):
        if interrupt.requested():  # Ctrl-C: the batch that was in flight was the last one
            return
        group = units[start:start + batch]
        rows = batch if fixed else len(group)
        t0 = time.monotonic()
        progress.batch_started(len(group))
        try:
            with interrupt.in_flight(progress.describe_batch):  # what the first Ctrl-C waits for
                codes = generate_takes(loop, [u.payload["prompt"] for u in group],
                                       [u.payload["seed"] for u in group], frames, sampling, windows,
                                       on_step=lambda done, n=len(group): _step(progress, n, done / steps),
                                       rows=rows if fixed else None, intro=intro,  # auto: no padding
                                       melodies=[melody[u.payload["melody"]] for u in group] if melody else None)
                # One take at a time: batched convolutions round differently, and a take's audio
                # must be exactly what decoding its saved tokens alone gives back.
                audio = [decode(lm, codes[i:i + 1])[0] for i in range(len(group))]
        except (torch.OutOfMemoryError, RuntimeError) as e:
            if not is_out_of_memory(e):
                raise
            if len(group) == 1:
                raise ModelError(f"render: out of memory with one take of {cfg.model} on {lm.device}",
                                 "lower render.max_window, set render.dtype to float16, or use a smaller model"
                                 ) from None
            batch = len(group) // 2
            loop.reset()
            if loop.device.type == "cuda":  # cuda:N too
                with torch.cuda.device(loop.device):
                    torch.cuda.empty_cache()
            ctx.event("render_oom", batch_size=batch, failed_batch=len(group))
            ctx.log.warning("render: out of memory at batch %d, going on with batch %d", len(group), batch)
            continue
        if loop.graphs_off and not graphs_told:
            graphs_told = _tell_graphs_off(ctx, loop, progress)
        seconds = (time.monotonic() - t0) / len(group)
        for i, unit in enumerate(group):
            yield _save_take(ctx, lm, unit, codes[i], audio[i], frames, seconds, rows, cfg,
                             joins=window_joins(windows, frames, rate))
        start += len(group)
        progress.takes_done(len(group))


def _step(progress: Progress, n: int, share: float) -> None:
    progress.batch_step(n, share)
    # Only a second Ctrl-C leaves a batch: the first lets it finish and be recorded.
    interrupt.check_now()


_loaded: dict = {}


def _load(source: str, device: str, dtype: str, name: str = "transformers") -> tuple:
    """The model and its loop, kept for the build's later rounds (pick may ask for more
    takes): loading a real checkpoint takes longer than rendering a few takes."""
    key = (source, device, dtype, name)
    if key not in _loaded:
        _loaded.clear()  # one model in memory at a time
        b = backend(name)
        lm = b.load(source, device, dtype)
        _loaded[key] = (lm, b.loop(lm))
    return _loaded[key]


def _melodies(ctx: Context, cfg: RenderConfig, lm, units: list[Unit]) -> dict:
    """Each melody file the units name, read once at the model's rate: {file: (channels, samples)}."""
    import torch

    from albumgen.inputs import resolve_audio
    from albumgen.models.reference import load_reference

    names = {u.payload.get("melody") for u in units} - {None}
    if not names:
        return {}
    if not getattr(lm, "melody", False):
        raise no_melody(cfg)
    return {None: None, **{n: torch.from_numpy(load_reference(resolve_audio(ctx.base_dir, n, "render.melody"),
                                                                lm.sample_rate, 1)) for n in names}}


def decode(lm, codes):
    """Audio of tokens through the EnCodec of the backend that made them."""
    return backend(lm.backend).decode(lm, codes)


def _tell_graphs_off(ctx: Context, loop: TakeLoop, progress: Progress) -> bool:
    """A refused graph capture leaves the render several times slower: say so in the events,
    the log and the progress line, not only in one warning at capture time."""
    ctx.event("render_graphs_off", reason=loop.graphs_off)
    ctx.log.warning("render: CUDA graphs are off (%s); decoding eagerly, several times slower", loop.graphs_off)
    progress.note = "CUDA graphs off"
    return True


def window_joins(windows: Windows, frames: int, rate: float) -> list[float]:
    """Seconds where each continuation window's new audio begins: pick looks for seams
    there (a take that jumps or clicks exactly where two windows meet)."""
    return [round((start + windows.prompt_frames) / rate, 3) for start, _ in windows.plan(frames)[1:]]


def _save_take(ctx: Context, lm, unit: Unit, codes, audio, frames: int, seconds: float, batch: int, cfg,
               joins: list[float] | None = None) -> Done:
    p = unit.payload
    folder = ctx.work_dir("render") / p["track"]
    wav = folder / f"take-{p['take']}.wav"
    codes_path = folder / f"take-{p['take']}.codes"
    meta_path = folder / f"take-{p['take']}.json"
    write_wav(wav, audio.numpy().T, lm.sample_rate)
    with atomic.atomic_path(codes_path, need=codes.numel() * 2 + 128) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, codes.cpu().numpy().astype(np.int16))
    meta = {"track": p["track"], "take": p["take"], "seed": p["seed"], "prompt": p["prompt"],
            "backend": cfg.backend, "model": lm.model_id, "revision": lm.revision, "sample_rate": lm.sample_rate,
            "channels": lm.channels, "frames": frames, "duration": cfg.duration, "tail": cfg.tail_seconds,
            "seconds": round(seconds, 3), "batch": batch,
            "sampling": {"top_k": cfg.top_k, "top_p": cfg.top_p, "temperature": cfg.temperature, "cfg": cfg.cfg},
            "device": lm.device, "dtype": str(lm.dtype).replace("torch.", ""), "joins": joins or []}
    # What a take's last bits depend on besides the seed (docs/configuration.md, render): the kernels
    # of this torch build and, on CUDA, of this GPU model, at this batch size.
    import torch

    meta["torch"] = torch.__version__
    if lm.device.startswith("cuda"):
        meta["gpu"] = torch.cuda.get_device_name(lm.device)
    # Last, with the hashes of the audio and tokens: the sidecar that proves this take if
    # its record is ever lost (albumgen.engine.store.recovery).
    hashes = write_sidecar(meta_path, meta, "render", unit, [wav, codes_path], ctx.album_dir)
    return Done(unit, [wav, codes_path, meta_path], data=meta, seconds=seconds, hashes=hashes)
