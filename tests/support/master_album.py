"""Builders for the master tests: synthetic music-like takes committed to a real manifest
as the render, pick and prompts stages would, so master runs through the real runner
without the model. No tests here."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf
from rounds import run_stage

from albumgen.audio.ffmpeg import ffmpeg_exe
from albumgen.config import parse_config
from albumgen.engine.runner import make_context
from albumgen.engine.store import atomic
from albumgen.stages.master import MasterStage
from albumgen.stages.sequence import SequenceStage

SR = 32000


def music(seconds: float = 3.0, seed: int = 0, channels: int = 2) -> np.ndarray:
    """Chords (harmonic triads changing every half second) plus drum-like noise bursts on
    the beat: a peak-to-loudness ratio of about 15 dB, like real music, so -14 LUFS under
    -1 dBTP needs a limiter. Peak 1."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR
    out = np.zeros((len(t), channels))
    for start in np.arange(0, seconds, 0.5):
        seg = (t >= start) & (t < start + 0.5)
        root = 110 * 2 ** (rng.integers(0, 12) / 12)
        for ratio in (1, 1.26, 1.5):
            for h in range(1, 5):
                for c in range(channels):
                    out[seg, c] += 0.08 / h * np.sin(2 * np.pi * root * ratio * h * t[seg] + c * 0.3)
    for beat in np.arange(0.25, seconds, 0.5):
        i = int(beat * SR)
        n = min(int(0.12 * SR), len(t) - i)
        out[i:i + n] += 0.25 * (rng.standard_normal((n, channels)) * np.exp(-np.arange(n) / (0.02 * SR))[:, None])
    return (out / np.abs(out).max()).astype(np.float32)


def variant(kind: str, seed: int = 0, seconds: float = 3.0) -> np.ndarray:
    """quiet: -40 dBFS peaks; loud: full scale; clipped: driven 4x into hard clipping;
    overs: float samples up to 2.0, as a model's decoder can emit."""
    x = music(seconds, seed)
    return {"quiet": x * 0.01, "loud": x * 0.99, "clipped": np.clip(x * 4, -1, 1), "overs": x * 2.0}[kind]


def make_album(tmp: Path, takes: list[tuple[str, np.ndarray]], master: dict | None = None,
               album: dict | None = None, album_title: str = "Test Album"):
    """A manifest holding a tracklist, one take per track and its pick; returns the context."""
    cfg = parse_config({"album": {"title": album_title, "slug": "test-album", "artist": "Tester",
                                  "genre": "Ambient", "year": 2026, "tracks": len(takes), "seed": 7, **(album or {})},
                        "output_dir": "albums", "master": {"fade_out": 0.3, **(master or {})}})
    ctx = make_context(cfg, tmp, "pipeline.yaml", progress=False)
    m = ctx.manifest
    m.ensure_writable()
    tracks = []
    for i, (title, audio) in enumerate(takes, 1):
        tid = f"t{i:02d}"
        tracks.append({"id": tid, "n": i, "title": title, "prompt": f"prompt {i}: chords, noise, 120 bpm"})
        wav = ctx.album_dir / f"manifest/takes/{tid}/take-1.wav"
        with atomic.atomic_path(wav) as t:
            sf.write(str(t), audio, SR, subtype="FLOAT", format="WAV")
        m.commit(f"render-{tid}", "render", f"{tid}/take-1", [wav],
                 {"seed": 1000 + i, "model": "synthetic", "revision": "r1", "prompt": tracks[-1]["prompt"],
                  "sample_rate": SR, "channels": audio.shape[1]})
        rel = wav.relative_to(ctx.album_dir).as_posix()
        m.commit(f"pick-{tid}", "pick", tid, [], {"choice": 1, "wav": rel, "score": 0.5 + i / 10, "all_rejected": False})
    tl = ctx.album_dir / "manifest/prompts/tracklist.json"
    data = {"album_title": album_title, "tracks": tracks}
    atomic.write_json(tl, data)
    m.commit("prompts", "prompts", "tracklist", [tl], data)
    return ctx


def retitle(ctx, n: int, title: str) -> None:
    rec = ctx.manifest.record("prompts", "tracklist")
    data = dict(rec.data)
    data["tracks"] = [dict(t, title=title) if t["n"] == n else t for t in data["tracks"]]
    ctx.manifest.commit("prompts2", "prompts", "tracklist", [ctx.album_dir / "manifest/prompts/tracklist.json"], data)


def run_master(ctx) -> list[str]:
    """Run sequence (master's other input) and master through the runner; returns the
    master unit ids that ran."""
    n = len(ctx.manifest.events())
    run_stage(SequenceStage(), ctx)
    run_stage(MasterStage(), ctx)
    return [e["unit"] for e in ctx.manifest.events()[n:] if e["event"] == "unit_done" and e["stage"] == "master"]


def ebur128(path: Path) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) by ffmpeg's own meter."""
    r = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(path), "-af", "ebur128=peak=true",
                        "-f", "null", "-"], capture_output=True, text=True, check=True)
    summary = r.stderr[r.stderr.rindex("Summary:"):]
    lufs = float(re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary).group(1))
    peak = float(re.search(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS", summary).group(1))
    return lufs, peak


def decoded_frames(path: Path) -> int:
    out = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "s16le", "-ac", "1", "-"],
                         capture_output=True, check=True).stdout
    return len(out) // 2


def reconfigure(ctx, **master):
    """The same album under changed master.* settings, as an edited pipeline.yaml gives."""
    data = ctx.config.model_dump(mode="json")
    data["master"].update(master)
    return make_context(parse_config(data), ctx.base_dir, "pipeline.yaml", progress=False)
