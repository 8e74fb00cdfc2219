"""What a catalogue of many albums costs the driver before any unit runs.

    python bench/catalogue_open.py [--albums 1000] [--tracks 12] [--built]

Writes `--albums` real pipelines (builtin prompts, tiny model) and does what `albumgen
build a.yaml b.yaml ...` does first: loads and validates every pipeline, opens its album,
and plans every stage that can be planned (runner.preflight_all), then releases each
album's records, as the build does. Reports the seconds (driver CPU and wall) per album and
in all, and the driver's memory: resident set before, after, and its peak (ru_maxrss), so
the memory an open-but-waiting album costs is measured, not guessed.

--built: every album is already built (a resume of the whole catalogue): one real album
is built first (tiny model, 1 s takes, 2 per track) and hard-linked into every album's
folder, so each album's records are read (and released) by the checks.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path

import yaml

from albumgen.engine import runner


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--albums", type=int, default=1000)
    ap.add_argument("--tracks", type=int, default=12)
    ap.add_argument("--built", action="store_true", help="every album built already (a resume)")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for n in range(args.albums):
            data = {"album": {"title": "Album", "slug": f"album-{n:04d}", "tracks": args.tracks, "seed": 1},
                    "prompts": {"source": "builtin"},
                    "render": {"model": "tiny", "takes": 2, "duration": 1, "tail": 0, "device": "cpu"},
                    "pick": {"max_rounds": 0}, "executor": {"workers": 0}}
            path = Path(tmp) / f"album-{n:04d}.yaml"
            path.write_text(yaml.safe_dump(data), "utf-8")
            paths.append(path)
        first = runner.open_pipeline(paths[0], progress=False)  # imports, the stage registry: not per album
        records = 0
        if args.built:
            runner.build(first)
            records = len(first.manifest.state.records)
            first.manifest.release()
            for path in paths[1:]:
                shutil.copytree(first.album_dir, first.album_dir.with_name(path.stem), copy_function=os.link)
        before = rss_mb()
        tracemalloc.start()  # the Python heap, which a resident set (pages kept by the allocator) overstates
        wall, cpu = time.monotonic(), time.process_time()
        ctxs = runner.open_pipelines(paths, progress=False)  # as `albumgen build` does
        opened = tracemalloc.get_traced_memory()[0] / 2**20
        runner.preflight_all(ctxs)
        wall, cpu = time.monotonic() - wall, time.process_time() - cpu
        held, heap_peak = (b / 2**20 for b in tracemalloc.get_traced_memory())
        tracemalloc.stop()
        after = rss_mb()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kind = f"built, {records} records each" if args.built else "new"
    print(f"{args.albums} albums x {args.tracks} tracks ({kind}): opened and checked in {wall:.1f} s wall, {cpu:.1f} s CPU "
          f"({1000 * cpu / args.albums:.1f} ms CPU per album)")
    print(f"  Python heap held: {opened:.1f} MB with every album open, {held:.1f} MB after the checks "
          f"({1024 * held / args.albums:.1f} kB per album), peak {heap_peak:.1f} MB")
    print(f"  driver resident: {before:.0f} MB before, {after:.0f} MB after (CPU time above includes tracing), "
          f"peak {peak:.0f} MB")


if __name__ == "__main__":
    main()
