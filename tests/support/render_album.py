"""Albums rendered by the real runner on the tiny model, and what their takes hold: the
builders the render, model and AudioCraft tests share."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
from helpers import write_pipeline

from albumgen.engine import runner
from albumgen.engine.store.manifest import Manifest
from albumgen.stages.render import RenderStage


def build(folder, render: dict, progress: bool = False):
    pipeline = write_pipeline(folder, {"render": render})
    ctx = runner.open_pipeline(pipeline, progress=progress)
    runner.build(ctx, until="render")
    return ctx.album_dir


def takes(album) -> dict[str, tuple[np.ndarray, np.ndarray, dict]]:
    out = {}
    for rec in Manifest(album).records("render"):
        stem = album / "manifest" / "takes" / rec.unit.replace("/", "/")
        audio, sr = sf.read(f"{stem}.wav", dtype="float32", always_2d=True)
        out[rec.unit] = (np.load(f"{stem}.codes"), audio, rec.data)
    return out


def write_intro(folder, seconds: float = 0.3, freq: float = 220.0, sr: int = 44100):
    t = np.arange(int(seconds * sr)) / sr
    tone = 0.3 * np.sin(2 * np.pi * freq * t)
    path = folder / "intro.wav"
    sf.write(path, np.stack([tone, tone * 0.5], axis=1), sr)  # stereo at 44.1 kHz: folded and resampled
    return path


def render_keys(folder: Path, prompts: dict, render: dict) -> tuple[dict, dict]:
    pipeline = write_pipeline(folder, {"prompts": prompts, "render": {
        "model": "tiny-melody", "takes": 1, "duration": 0.2, **render}})
    ctx = runner.open_pipeline(pipeline, progress=False)
    runner.build(ctx, until="render")
    units = {u.id: u for u in RenderStage().plan(ctx)}
    return {r.unit: r.key for r in Manifest(ctx.album_dir).records("render")}, units
