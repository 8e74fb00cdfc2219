"""Rendering pending takes: batches across tracks, per-take seeds, tokens kept beside audio."""
from __future__ import annotations

import time
from typing import Iterator

import numpy as np

from albumgen import atomic
from albumgen.audio.io import write_wav
from albumgen.models.decode import Sampling, generate_codes
from albumgen.models.musicgen import decode_tokens, load_musicgen
from albumgen.stage import Context, Done, Unit


def render_units(ctx: Context, units: list[Unit]) -> Iterator[Done]:
    cfg = ctx.stage_config("render")
    lm = load_musicgen(cfg.model, cfg.device, cfg.dtype)
    frames = max(1, int(round(cfg.duration * lm.frame_rate)))
    batch = cfg.batch_size if isinstance(cfg.batch_size, int) else 8
    sampling = Sampling(top_k=cfg.top_k, top_p=cfg.top_p, temperature=cfg.temperature, cfg=cfg.cfg)
    for start in range(0, len(units), batch):
        group = units[start:start + batch]
        t0 = time.monotonic()
        codes = generate_codes(lm, [u.payload["prompt"] for u in group], [u.payload["seed"] for u in group],
                               frames, sampling)
        audio = decode_tokens(lm, codes)
        seconds = (time.monotonic() - t0) / len(group)
        for i, unit in enumerate(group):
            yield _save_take(ctx, lm, unit, codes[i], audio[i], frames, seconds)


def _save_take(ctx: Context, lm, unit: Unit, codes, audio, frames: int, seconds: float) -> Done:
    p = unit.payload
    folder = ctx.path(f"manifest/takes/{p['track']}")
    wav = folder / f"take-{p['take']}.wav"
    codes_path = folder / f"take-{p['take']}.codes"
    meta_path = folder / f"take-{p['take']}.json"
    write_wav(wav, audio.numpy().T, lm.sample_rate)
    with atomic.atomic_path(codes_path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, codes.cpu().numpy().astype(np.int16))
    meta = {"track": p["track"], "take": p["take"], "seed": p["seed"], "prompt": p["prompt"],
            "model": lm.model_id, "revision": lm.revision, "sample_rate": lm.sample_rate,
            "channels": lm.channels, "frames": frames, "seconds": round(seconds, 3),
            "device": lm.device, "dtype": str(lm.dtype).replace("torch.", "")}
    atomic.write_json(meta_path, meta)
    return Done(unit, [wav, codes_path, meta_path], data=meta, seconds=seconds)
