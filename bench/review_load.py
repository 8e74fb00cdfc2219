"""Load time of `albumgen review` in headless Chromium: the album view and one track view of
a 20-track x 8-take album of 30 s takes, with the picture cache empty (every picture drawn on
request) and full (read from manifest/review/). The browser cache is off, so each load asks
the server for everything; time is the navigation's loadEventEnd (HTML, CSS, JS and every
picture; players fetch only their files' headers, preload=metadata, for their lengths).
Goal: under 1 s with the pictures cached.

The album is synthesised into the manifest layout a build makes (real prompts stage; takes
as 32 kHz WAVs of tones, pulses and noise; masters as 44.1 kHz stereo MP3s from ffmpeg;
pick reports with scores and reasons), since 160 real takes would take hours of CPU.

    .venv/bin/python bench/review_load.py [--tracks 20] [--takes 8] [--seconds 30] [--repeat 5]
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from albumgen.audio.ffmpeg import ffmpeg_exe  # noqa: E402
from albumgen.audio.io import write_wav  # noqa: E402
from albumgen.engine import runner
from albumgen.engine.store import atomic  # noqa: E402
from albumgen.engine.store.hashing import sha256_json  # noqa: E402
from albumgen.review import pictures  # noqa: E402
from albumgen.review.server import ReviewServer  # noqa: E402

GOAL_S = 1.0


def synth_take(rng: np.random.Generator, seconds: float, sr: int) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    f0 = rng.uniform(80, 400)
    tone = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6)) / k for k in range(1, 6))
    pulse = (np.sin(2 * np.pi * rng.uniform(1, 3) * t) > 0.6) * rng.normal(0, 0.3, len(t))
    audio = 0.15 * tone * (0.6 + 0.4 * np.sin(2 * np.pi * t / seconds)) + pulse + rng.normal(0, 0.02, len(t))
    return (0.5 * audio / np.max(np.abs(audio))).astype(np.float32)


def make_album(folder: Path, tracks: int, takes: int, seconds: float) -> Path:
    pipeline = folder / "pipeline.yaml"
    pipeline.write_text(yaml.safe_dump({"album": {"title": "Bench Album", "slug": "bench", "tracks": tracks},
                                        "prompts": {"source": "builtin"}, "render": {"model": "tiny", "takes": takes}}))
    ctx = runner.open_pipeline(pipeline, progress=False)
    runner.build(ctx, until="prompts")
    man = ctx.manifest
    rng = np.random.default_rng(0)
    from PIL import Image

    Image.new("RGB", (600, 600), (40, 30, 70)).save(ctx.album_dir / "cover.jpg", quality=90)
    for t in man.record("prompts", "tracklist").data["tracks"]:
        tid, report = t["id"], []
        for n in range(1, takes + 1):
            wav = ctx.album_dir / f"manifest/takes/{tid}/take-{n}.wav"
            write_wav(wav, synth_take(rng, seconds, 32000), 32000)
            man.commit(sha256_json([tid, n]), "render", f"{tid}/take-{n}", [wav], {"seed": n})
            score = float(rng.normal(0, 1))
            report.append({"take": n, "wav": f"manifest/takes/{tid}/take-{n}.wav", "score": score,
                           "rejects": ["noise: noise-like (flatness -4.1 dB)"] if score < -1 else [],
                           "warnings": ["rhythm: no steady pulse (clarity 0.08)"] if n % 3 == 0 else []})
        best = max(report, key=lambda r: r["score"])
        pick = ctx.album_dir / f"manifest/picks/{tid}.json"
        atomic.write_json(pick, {"track": tid, "choice": best["take"], "takes": report, "skipped": {}})
        man.commit(sha256_json([tid, "pick"]), "pick", tid, [pick],
                   {"choice": best["take"], "wav": best["wav"], "score": best["score"], "all_rejected": False,
                    "manual": False})
        mp3 = ctx.album_dir / f"{t['n']:02d} - Track {t['n']}.mp3"
        subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(ctx.album_dir / best["wav"]), "-ac", "2",
                        "-ar", "44100", "-b:a", "320k", str(mp3)], check=True)
        man.commit(sha256_json([tid, "master"]), "master", tid, [mp3],
                   {"file": mp3.name, "loudness": -14.0, "true_peak": -1.2, "duration": seconds, "take": best["take"]})
    return pipeline


def browser(profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,1400", f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    driver.set_page_load_timeout(600)
    return driver


def load_seconds(driver, url: str) -> float:
    driver.get("about:blank")
    driver.get(url)
    ms = driver.execute_script("const n = performance.getEntriesByType('navigation')[0];"
                               "return n.loadEventEnd - n.startTime;")
    broken = driver.execute_script("return Array.from(document.images).filter(i => !i.naturalWidth).length")
    assert broken == 0, f"{broken} pictures did not load"
    return ms / 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tracks", type=int, default=20)
    ap.add_argument("--takes", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--album", type=Path, help="make the album here and keep it; reused when it is there")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        folder = args.album or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        pipeline = folder / "pipeline.yaml"
        if not pipeline.exists():
            make_album(folder, args.tracks, args.takes, args.seconds)
        print(f"album: {args.tracks} tracks x {args.takes} takes of {args.seconds:g} s "
              f"(ready in {time.perf_counter() - t0:.0f} s)")
        ctx = runner.open_pipeline(pipeline, progress=False)
        server = ReviewServer(ctx, prefetch=False).start()  # every picture drawn on request
        driver = browser(Path(tmp) / "profile")
        cache = ctx.album_dir / pictures.CACHE
        base, token = server.url.split("/?")[0], server.token
        views = {"album view": f"{base}/?token={token}", "track view": f"{base}/track/t01?token={token}"}
        try:
            load_seconds(driver, views["album view"])  # warm imports and the browser
            rows = []
            for name, url in views.items():
                cold, warm = [], []
                for _ in range(args.repeat):
                    shutil.rmtree(cache, ignore_errors=True)
                    cold.append(load_seconds(driver, url))
                    warm.append(load_seconds(driver, url))
                rows.append((name, statistics.median(cold), statistics.median(warm)))
        finally:
            driver.quit()
            server.close()
    print(f"{'view':12} {'not cached':>11} {'cached':>8} {'ratio':>6} {'cached/goal':>12}")
    for name, cold, warm in rows:
        print(f"{name:12} {cold:10.3f}s {warm:7.3f}s {cold / warm:5.1f}x {warm / GOAL_S:11.2f}")
    print(json.dumps({name: {"not_cached_s": round(c, 3), "cached_s": round(w, 3)} for name, c, w in rows}))


if __name__ == "__main__":
    main()
