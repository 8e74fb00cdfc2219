"""Mastering cost against ffmpeg's own chain.

For a few kinds of input (quiet, peaky, already loud), both chains take the same 32 kHz
float WAV to a 44.1 kHz 320k MP3 at -14 LUFS under -1 dBTP:

  albumgen: master.track.master (resample, loudness-seeking gain + look-ahead true-peak
            limiter, encode, decode-and-check, a second encode only if the encoder pushed
            a peak over);
  ffmpeg:   loudnorm=I=-14:TP=-1 (single pass, dynamic) + alimiter + aresample, one encode,
            the chain people reach for in a shell.

Prints CPU seconds per minute of audio (both counting every process they start), the
ratio, ffmpeg's ebur128 reading of each result (LUFS, dBTP) and how many encodes albumgen
needed. Side by side on the same machine and input, so contention hits both alike.

    .venv/bin/python bench/master_cost.py [--seconds 60] [--repeat 2]
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from music_fixtures import SR, song  # noqa: E402

from albumgen.audio.ffmpeg import ffmpeg_exe  # noqa: E402
from albumgen.audio.io import write_wav  # noqa: E402
from albumgen.audio.loudness import integrated_loudness  # noqa: E402
from albumgen.stages.master import track  # noqa: E402
from albumgen.stages.master.config import MasterConfig  # noqa: E402


def inputs(seconds: float) -> dict[str, np.ndarray]:
    x = song(9, "minor", 124.0, seconds)
    x = np.stack([x, np.roll(x, 7)], axis=1).astype(np.float32)
    peaky = x * 0.3
    rng = np.random.default_rng(5)
    for at in rng.uniform(0, seconds - 0.01, size=int(seconds)):  # one 0 dBFS spike a second
        i = int(at * SR)
        peaky[i:i + 16] = rng.choice([-1.0, 1.0]) * np.hanning(16)[:, None]
    loud = np.tanh(4 * x) * 0.99  # pre-limited, about -8 LUFS
    return {"quiet (-40 dBFS peaks)": x * 0.01, "peaky (spikes, -25 LUFS)": peaky, "already loud": loud}


def ebur128(path: Path) -> tuple[float, float]:
    r = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(path), "-af", "ebur128=peak=true",
                        "-f", "null", "-"], capture_output=True, text=True, check=True)
    s = r.stderr[r.stderr.rindex("Summary:"):]
    return (float(re.search(r"I:\s+(-?[\d.]+) LUFS", s).group(1)),
            float(re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", s).group(1)))


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_albumgen(audio: np.ndarray, out: Path, cfg: MasterConfig) -> tuple[float, int]:
    """Our process's CPU plus the ffmpeg children it starts (the encode and the check decode)."""
    c0, k0 = time.process_time(), _children_cpu()
    gain = cfg.loudness - integrated_loudness(audio, SR)
    m = track.master(audio, SR, cfg, gain, False, out)
    return time.process_time() - c0 + _children_cpu() - k0, m["encodes"]


def run_ffmpeg(wav: Path, out: Path) -> float:
    before = _children_cpu()
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(wav), "-af",
                    "loudnorm=I=-14:TP=-1:LRA=11,alimiter=limit=0.89:level=false,aresample=44100",
                    "-c:a", "libmp3lame", "-b:a", "320k", str(out)], check=True)
    return _children_cpu() - before


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    cfg = MasterConfig()
    per_min = 60.0 / args.seconds
    print(f"{args.seconds:.0f} s stereo input at 32 kHz -> 44.1 kHz 320k MP3, target -14 LUFS / -1 dBTP "
          f"(ffmpeg {os.path.basename(ffmpeg_exe())}); best of {args.repeat}")
    print(f"{'input':26} {'albumgen s/min':>14} {'ffmpeg s/min':>13} {'ratio':>6}  "
          f"{'albumgen LUFS/dBTP':>19} {'ffmpeg LUFS/dBTP':>17} {'encodes':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, audio in inputs(args.seconds).items():
            wav = tmp / "in.wav"
            write_wav(wav, audio, SR)
            ours = [run_albumgen(audio, tmp / "ours.mp3", cfg) for _ in range(args.repeat)]
            theirs = [run_ffmpeg(wav, tmp / "theirs.mp3") for _ in range(args.repeat)]
            a, f = min(c for c, _ in ours) * per_min, min(theirs) * per_min
            la, pa = ebur128(tmp / "ours.mp3")
            lf, pf = ebur128(tmp / "theirs.mp3")
            print(f"{name:26} {a:14.2f} {f:13.2f} {a / f:5.2f}x  {la:9.2f} / {pa:6.2f} {lf:8.2f} / {pf:6.2f} "
                  f"{ours[-1][1]:7d}")
    print("ratio < 1: albumgen's master costs less CPU than ffmpeg's chain per minute of audio")


if __name__ == "__main__":
    main()
