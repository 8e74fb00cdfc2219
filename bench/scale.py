"""Render throughput on one machine: `local`, `ray` with 1 render actor, `ray` with 2.

    python bench/scale.py [--tracks 8] [--takes 2] [--duration 8] [--batch 2] [--cpus 2]

The same takes (tiny model on the CPU, `--until render`) three times, each in a fresh album
folder, side by side in one run. One local Ray cluster is started here (`--cpus` CPUs and
room for 2 render actors through the albumgen_render resource) and used by both Ray runs.
Times come from events.jsonl, from the render units' submission to the last take recorded,
so they include loading the model (once per actor) and, for Ray, starting the actors.
Prints takes/s per mode and the ratios against `local` and against `ray x 1`.

The local executor renders in the build's process with torch's default threads (one per
core); a Ray actor gets the threads Ray gives it (OMP_NUM_THREADS=1 for an actor with no
CPU declared). Those are each executor's defaults, which is what a user gets.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
MODES = (("local", "local", None), ("ray x 1", "ray", 1), ("ray x 2", "ray", 2))


def pipeline(folder: Path, args, kind: str, actors: int | None) -> Path:
    data = {"album": {"title": "Bench", "slug": "bench", "tracks": args.tracks, "seed": 1},
            "prompts": {"source": "builtin"},
            "render": {"model": "tiny", "takes": args.takes, "duration": args.duration, "tail": 0, "device": "cpu",
                       "batch_size": args.batch},
            "executor": {"kind": kind, "workers": 0, **({"actors": actors} if actors else {})}}
    path = folder / "pipeline.yaml"
    path.write_text(yaml.safe_dump(data), "utf-8")
    return path


def render_seconds(album: Path) -> tuple[int, float]:
    events = [json.loads(line) for line in (album / "manifest" / "events.jsonl").read_text().splitlines()]
    start = next(e["ts"] for e in events if e["event"] == "units_submitted" and e["stage"] == "render")
    done = [e["ts"] for e in events if e["event"] == "unit_done" and e["stage"] == "render"]
    return len(done), max(done) - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=8)
    ap.add_argument("--takes", type=int, default=2)
    ap.add_argument("--duration", type=float, default=8.0)
    ap.add_argument("--batch", type=int, default=2, help="render.batch_size: the batches actors take from the queue")
    ap.add_argument("--cpus", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import ray

    from albumgen import runner

    ray.init(num_cpus=args.cpus, resources={"albumgen_render": 2}, include_dashboard=False, log_to_driver=False)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, kind, actors in MODES:
            folder = Path(tmp) / kind / str(actors)
            folder.mkdir(parents=True)
            ctx = runner.open_pipeline(pipeline(folder, args, kind, actors), progress=False)
            runner.build(ctx, until="render")
            takes, seconds = render_seconds(ctx.album_dir)
            rows[label] = (takes, seconds, takes / seconds)
            print(f"  {label}: {takes} takes in {seconds:.1f} s", file=sys.stderr, flush=True)
    ray.shutdown()
    print(f"{args.tracks} tracks x {args.takes} takes x {args.duration:g} s, tiny model, CPU, batch {args.batch}, "
          f"{args.cpus} CPUs")
    print(f"{'mode':10} {'takes':>6} {'seconds':>8} {'takes/s':>8} {'vs local':>9} {'vs ray x 1':>11}")
    for label, (takes, seconds, rate) in rows.items():
        print(f"{label:10} {takes:6d} {seconds:8.1f} {rate:8.3f} {rate / rows['local'][2]:8.2f}x "
              f"{rate / rows['ray x 1'][2]:10.2f}x")


if __name__ == "__main__":
    main()
