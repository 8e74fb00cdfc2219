"""Rendering whole songs (render.backend: acestep): one pass per take, latents kept beside audio.

The same promises as the MusicGen loop (engine.py): batches across tracks, one seed per
take, a take's audio independent of its batch, the batch halved on out-of-memory, progress
with an ETA, a take's record proving its files. What differs: no windows (a song of up to
600 s is one latent sequence), the saved artifact is the take's clean latents (decoding
them gives its audio back exactly), and a unit may be a repaint of a span of a parent take.
"""
from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np

from albumgen.audio.io import write_wav
from albumgen.engine import interrupt
from albumgen.engine.store import atomic
from albumgen.engine.store.recovery import write_sidecar
from albumgen.errors import ModelError
from albumgen.models.backend import backend
from albumgen.models.fast import is_out_of_memory
from albumgen.stage import Context, Done, Unit

from .config import RenderConfig
from .engine import CPU_BATCH, batch_for_memory, free_memory, model_source
from .progress import Progress, for_build


def generate_songs(lm, requests, seeds, cfg: RenderConfig, on_step=None, rows=None):
    """One batch of takes' latents. A module-level seam: the OOM test wraps it."""
    from albumgen.models.acestep import generate

    return generate(lm, requests, seeds, cfg.duration, cfg.steps, cfg.guidance, cfg.shift, on_step=on_step, rows=rows)


def auto_batch_size(lm, cfg: RenderConfig, pending: int) -> int:
    """Takes per batch from free accelerator memory and this model's bytes per take."""
    import torch

    free = free_memory(torch.device(lm.device))
    if free is None:
        return max(1, min(CPU_BATCH, pending))
    return batch_for_memory(free, backend("acestep").bytes_per_take(lm, cfg.duration, cfg.guidance > 1), pending)


_loaded: dict = {}


def load(source: str, device: str, dtype: str):
    """The pipeline, kept for the build's later rounds (pick's retries and repaints)."""
    key = (source, device, dtype)
    if key not in _loaded:
        _loaded.clear()  # one model in memory at a time
        _loaded[key] = backend("acestep").load(source, device, dtype)
    return _loaded[key]


def request_of(ctx: Context, lm, unit: Unit):
    from albumgen.models.acestep import Request

    p = unit.payload
    req = Request(prompt=p["prompt"], lyrics=p.get("lyrics") or "", language=p.get("language") or "en",
                  bpm=p.get("bpm"), key=p.get("key"), meter=p.get("meter"))
    rep = p.get("repaint")
    if rep:
        import torch

        req.source = torch.from_numpy(np.load(ctx.path(rep["latents"])))
        req.span = (int(rep["start"] * lm.frame_rate), int(np.ceil(rep["end"] * lm.frame_rate)))
    return req


def render_songs(ctx: Context, cfg: RenderConfig, units: list[Unit]) -> Iterator[Done]:
    import torch

    lm = load(model_source(cfg.model, ctx.base_dir), cfg.device, cfg.dtype)
    batch = cfg.batch_size if isinstance(cfg.batch_size, int) else auto_batch_size(lm, cfg, len(units))
    progress = for_build(ctx, units, cfg.duration)
    ctx.event("render_batch_size", batch_size=batch, auto=cfg.batch_size == "auto", device=lm.device)
    fixed = cfg.batch_size != "auto"
    # A batch is all new takes or all repaints (a repaint's DiT context differs in kind).
    queue = sorted(units, key=lambda u: bool(u.payload.get("repaint")))
    start = 0
    while start < len(queue):
        group = queue[start:start + batch]
        kinds = [bool(u.payload.get("repaint")) for u in group]
        group = group[:kinds.index(not kinds[0])] if len(set(kinds)) > 1 else group
        t0 = time.monotonic()
        progress.batch_started(len(group))
        try:
            latents = generate_songs(lm, [request_of(ctx, lm, u) for u in group], [u.payload["seed"] for u in group],
                                     cfg, on_step=lambda done, total, n=len(group): _step(progress, n, done / total),
                                     rows=batch if fixed else None)
            audio = [backend(lm.backend).decode(lm, latents[i]) for i in range(len(group))]
        except (torch.OutOfMemoryError, RuntimeError) as e:
            if not is_out_of_memory(e):
                raise
            if len(group) == 1:
                raise ModelError(f"render: out of memory with one {cfg.duration:g} s take of {cfg.model} on {lm.device}",
                                 "lower render.duration, set render.dtype to bfloat16, or use a smaller model") from None
            batch = len(group) // 2
            if lm.device.startswith("cuda"):
                with torch.cuda.device(torch.device(lm.device)):  # cuda:N: that device's cache
                    torch.cuda.empty_cache()
            ctx.event("render_oom", batch_size=batch, failed_batch=len(group))
            ctx.log.warning("render: out of memory at batch %d, going on with batch %d", len(group), batch)
            continue
        seconds = (time.monotonic() - t0) / len(group)
        for i, unit in enumerate(group):
            yield _save(ctx, lm, unit, latents[i], audio[i], seconds, batch if fixed else len(group), cfg)
        start += len(group)
        progress.takes_done(len(group))


def _step(progress: Progress, n: int, share: float) -> None:
    progress.batch_step(n, share)
    interrupt.check()  # Ctrl-C mid-batch: only the batch in flight is lost, never a recorded take


def splice(parent, new, a: int, b: int, fade: int):
    """The parent's audio with samples [a, b) taken from `new`, joined by crossfades of `fade`
    samples inside the span (none at the song's start or end): outside it the parent is kept
    exactly."""
    import torch

    out = parent.clone()
    out[:, a:b] = new[:, a:b]
    fade = max(0, min(fade, (b - a) // 2))
    if fade:
        ramp = torch.sin(torch.linspace(0, torch.pi / 2, fade)) ** 2
        if a > 0:
            out[:, a:a + fade] = parent[:, a:a + fade] * (1 - ramp) + new[:, a:a + fade] * ramp
        if b < parent.shape[1]:
            out[:, b - fade:b] = new[:, b - fade:b] * (1 - ramp) + parent[:, b - fade:b] * ramp
    return out


def _save(ctx: Context, lm, unit: Unit, latents, audio, seconds: float, batch: int, cfg: RenderConfig) -> Done:
    import torch

    p = unit.payload
    folder = ctx.work_dir("render") / p["track"]
    stem = folder / f"take-{p['take']}"
    wav, lat_path, meta_path = stem.with_suffix(".wav"), stem.with_suffix(".latents"), stem.with_suffix(".json")
    rep = p.get("repaint")
    if rep:
        from albumgen.audio.io import read_audio

        parent, _sr = read_audio(ctx.path(rep["wav"]))
        parent = torch.from_numpy(np.ascontiguousarray(parent.T)).float()
        a, b = int(rep["start"] * lm.sample_rate), int(rep["end"] * lm.sample_rate)
        audio = splice(parent, audio[:, :parent.shape[1]], a, min(b, parent.shape[1]), int(0.05 * lm.sample_rate))
    write_wav(wav, audio.numpy().T, lm.sample_rate)
    arr = latents.float().cpu().numpy()
    with atomic.atomic_path(lat_path, need=arr.nbytes + 128) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, arr)
    meta = {"track": p["track"], "take": p["take"], "seed": p["seed"], "prompt": p["prompt"],
            "backend": "acestep", "model": lm.model_id, "revision": lm.revision, "sample_rate": lm.sample_rate,
            "channels": lm.channels, "frames": int(latents.shape[0]), "duration": cfg.duration, "tail": 0.0,
            "seconds": round(seconds, 3), "batch": batch,
            "sampling": {"steps": cfg.steps, "guidance": cfg.guidance, "shift": cfg.shift},
            "bpm": p.get("bpm"), "key": p.get("key"), "meter": p.get("meter"), "language": p.get("language"),
            "lyrics": bool(p.get("lyrics")), "device": lm.device,
            "dtype": str(lm.dtype).replace("torch.", ""), "joins": [], "torch": torch.__version__}
    if rep:  # a repaint names where it came from: pick and people can tell it from a new take
        meta["parent"] = rep["parent"]
        meta["span"] = [rep["start"], rep["end"]]
    if lm.device.startswith("cuda"):
        meta["gpu"] = torch.cuda.get_device_name(lm.device)
    hashes = write_sidecar(meta_path, meta, "render", unit, [wav, lat_path], ctx.album_dir)
    return Done(unit, [wav, lat_path, meta_path], data=meta, seconds=seconds, hashes=hashes)
