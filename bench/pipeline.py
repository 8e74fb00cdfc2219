"""Time to the first finished MP3 and total time: pipelined (the frontier) vs stage by stage.

    python bench/pipeline.py [--tracks 6] [--takes 2] [--duration 6] [--workers auto]

The same tiny album twice, each in a fresh folder: once as one `build` (units flow: a
track is picked and mastered while the next tracks render), once as the engine ran before
the frontier, one stage after another (`--until prompts`, `--until render`, `--until pick`,
then the rest). Times come from events.jsonl: first `unit_done` of a mastered track and
the last event, both from the first build_start. Prints both and the ratios.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from albumgen.engine.store.manifest import Manifest

ROOT = Path(__file__).resolve().parents[1]


def pipeline(folder: Path, args) -> Path:
    data = {"album": {"title": "Bench", "slug": "bench", "tracks": args.tracks, "seed": 1},
            "prompts": {"source": "builtin"},
            "render": {"model": "tiny", "takes": args.takes, "duration": args.duration, "device": "cpu",
                       "batch_size": args.takes},  # one track per batch: the unit of pipelining
            "pick": {"max_rounds": 0},
            "executor": {"workers": args.workers if args.workers == "auto" else int(args.workers)}}
    path = folder / "pipeline.yaml"
    path.write_text(yaml.safe_dump(data), "utf-8")
    return path


def run(path: Path, *extra: str) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    r = subprocess.run([sys.executable, "-m", "albumgen", "build", str(path), *extra], env=env,
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"build failed: {r.stderr[-2000:]}")


def timings(album: Path) -> tuple[float, float]:
    """Seconds inside builds (process start-ups between the stage-by-stage builds are left
    out: the old engine ran its stages in one process) to the first MP3 and in all."""
    events = Manifest(album).events()  # every segment of the log, oldest first
    busy, first, start = 0.0, None, None
    for e in events:
        if e["event"] == "build_start":
            start = e["ts"]
        elif e["event"] == "unit_done" and e["stage"] == "master" and first is None \
                and e["unit"] not in ("cover", "analysis", "album"):
            first = busy + e["ts"] - start
        elif e["event"] == "build_done":
            busy += e["ts"] - start
    return first, busy


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=6)
    ap.add_argument("--takes", type=int, default=2)
    ap.add_argument("--duration", type=float, default=6.0)
    ap.add_argument("--workers", default="auto")
    args = ap.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("stage-by-stage", "pipelined"):
            folder = Path(tmp) / mode
            folder.mkdir()
            path = pipeline(folder, args)
            if mode == "stage-by-stage":
                for until in ("prompts", "render", "pick"):
                    run(path, "--until", until)
            run(path)
            rows[mode] = timings(folder / "albums" / "bench")
    ref_first, ref_total = rows["stage-by-stage"]
    print(f"{args.tracks} tracks x {args.takes} takes of {args.duration} s, tiny model on CPU, workers {args.workers}")
    print(f"{'mode':>15} {'first MP3 s':>12} {'total s':>8} {'first ratio':>12} {'total ratio':>12}")
    for mode, (first, total) in rows.items():
        print(f"{mode:>15} {first:>12.1f} {total:>8.1f} {first / ref_first:>12.2f} {total / ref_total:>12.2f}")


if __name__ == "__main__":
    main()
