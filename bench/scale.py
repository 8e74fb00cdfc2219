"""Render throughput on one machine: `local`, `ray` with 1 render actor, `ray` with 2;
with --catalogue N, the device's busy share over an N-album catalogue instead; with
--catalogue N --order, when each album of the catalogue is done.

    python bench/scale.py [--tracks 8] [--takes 2] [--duration 8] [--batch 2] [--cpus 2]
    python bench/scale.py --catalogue 8 [--tracks 2] [--takes 2] [--duration 4] [--workers 1]
    python bench/scale.py --catalogue 4 --order [--retry-rounds 1] [--tracks 2] [--takes 2] [--duration 4]
    python bench/scale.py --catalogue 8 --ray [--actors 2] [--cpus 2] [--tracks 2] [--takes 2] [--duration 4]

--catalogue N builds N albums (tiny model on the CPU, every stage, `local`) twice, side by
side in one run: on one frontier (albumgen build a.yaml b.yaml ...) and one album after
another (the same albums, each its own frontier, as a catalogue was built before). The
device's busy time is the sum of the render batches' times (each take's `seconds` in its
unit_done event, a batch's time shared among its takes); its busy share is that over the
catalogue's wall time (first build_start to last build_done). Prints both shares, their
ratio, and the catalogue's wall time against the one-after-another build's.

--order builds the catalogue twice on one frontier, side by side in one run: as shipped
(the executor serves the earliest-opened album first, its render work cut into one-batch
jobs) and first come first served (the albums' places left out: one device job per
submission, CPU units into the pool as they come, as the catalogue was built before).
Prints, per mode, when the first album is done and when each album is done on average
(from the catalogue's first build_start), and the wall time. `--retry-rounds R` lets
pick ask for R rounds of one more take per track (the tiny model's noise fails every
take): the retry takes an earlier album waits for are what the order is about.

--catalogue N --ray builds the catalogue on a local Ray cluster (`--cpus` CPUs, room for
`--actors` render actors through the albumgen_render resource), side by side in one run:
on one frontier, and each album one after another (its own executor: actors started and
the model loaded per album, as a catalogue was built before). Per actor, from its
`batch_done` events: the share of the time after warm-up (the end of its first batch, which
loads the model, to the end of the catalogue's last render batch) it spent rendering.
Per album, from its `object_store` events: the bytes this driver put in the object store
and fetched from it, the bytes units read from the store of the node that rendered them,
and put + fetched against the album's picked takes and MP3s.

The same takes (tiny model on the CPU, `--until render`) three times, each in a fresh album
folder, side by side in one run. One local Ray cluster is started here (`--cpus` CPUs and
room for 2 render actors through the albumgen_render resource) and used by both Ray runs.
Times come from events.jsonl, from the render units' submission to the last take recorded,
so they include loading the model (once per actor) and, for Ray, starting the actors.
Prints takes/s per mode and the ratios against `local` and against `ray x 1`, twice: in
all (start-ups included) and steady (from the first take recorded to the last, the takes
after the first).

Threads: a Ray render actor declares no CPU (it holds the albumgen_render resource), so
Ray gives it OMP_NUM_THREADS=1; the local build renders in this process with
`--local-threads` torch threads (default 1, the same as an actor, so the figures compare
executors rather than thread counts; 0 keeps torch's default, one per core). `--rounds`
repeats the three modes in turn, so a busy machine's load falls on all of them alike.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path

import yaml

from albumgen.engine.store.manifest import Manifest

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


def render_seconds(album: Path) -> tuple[int, float, float]:
    """Takes, seconds in all (from their submission), seconds steady (first take recorded
    to the last: model loads and actor start-ups left out)."""
    events = Manifest(album).events()  # every segment of the log, oldest first
    start = next(e["ts"] for e in events if e["event"] == "units_submitted" and e["stage"] == "render")
    done = sorted(e["ts"] for e in events if e["event"] == "unit_done" and e["stage"] == "render")
    return len(done), done[-1] - start, done[-1] - done[0]


def catalogue_pipeline(folder: Path, args, n: int, kind: str = "local") -> Path:
    data = {"album": {"title": f"Bench {n}", "slug": f"bench-{n:03d}", "tracks": args.tracks, "seed": n},
            "prompts": {"source": "builtin"},
            "render": {"model": "tiny", "takes": args.takes, "duration": args.duration, "tail": 0, "device": "cpu",
                       "batch_size": args.batch},
            # The tiny model's noise fails the checks: every track gets every retry round asked for.
            "pick": {"max_rounds": args.retry_rounds, "retry_takes": 1},
            "executor": {"kind": kind, "workers": args.workers}}
    path = folder / f"album-{n:03d}.yaml"
    path.write_text(yaml.safe_dump(data), "utf-8")
    return path


def device_share(albums: list[Path]) -> tuple[float, float]:
    """Seconds the device spent rendering, and the catalogue's wall time, from the events."""
    busy, first, last = 0.0, None, None
    for album in albums:
        events = Manifest(album).events()
        busy += sum(e["seconds"] for e in events if e["event"] == "unit_done" and e["stage"] == "render")
        start = min(e["ts"] for e in events if e["event"] == "build_start")
        end = max(e["ts"] for e in events if e["event"] == "build_done")
        first = start if first is None else min(first, start)
        last = end if last is None else max(last, end)
    return busy, last - first


def albums_done(albums: list[Path]) -> tuple[list[float], float]:
    """When each album was done (build_done), in seconds from the catalogue's first
    build_start, earliest first; and the catalogue's wall time."""
    starts, ends = [], []
    for album in albums:
        events = Manifest(album).events()
        starts.append(min(e["ts"] for e in events if e["event"] == "build_start"))
        ends.append(max(e["ts"] for e in events if e["event"] == "build_done"))
    done = sorted(end - min(starts) for end in ends)
    return done, done[-1]


@contextlib.contextmanager
def first_come_first_served():
    """The catalogue without its albums' places: the executor serves its units as they
    come, as it did before it served the earliest-opened album first."""
    from albumgen.engine import catalogue

    ordered = catalogue._ForAlbum.submit
    catalogue._ForAlbum.submit = lambda self, stage, units: self.executor.submit(stage, units, self.ctx)
    try:
        yield
    finally:
        catalogue._ForAlbum.submit = ordered


def open_catalogue(folder: Path, args, kind: str = "local") -> list:
    """args.catalogue albums' pipelines written in `folder`, opened and checked, as the CLI does."""
    from albumgen.engine import runner

    folder.mkdir(parents=True)
    paths = [catalogue_pipeline(folder, args, n, kind) for n in range(args.catalogue)]
    albums = [(p, runner.open_pipeline(p, progress=False)) for p in paths]
    runner.preflight_all([ctx for _, ctx in albums])
    return albums


def run_order(args) -> None:
    import torch

    from albumgen.engine import catalogue, runner

    torch.set_num_threads(max(1, args.local_threads))
    modes = {"by album": contextlib.nullcontext, "first come first served": first_come_first_served}
    runs: dict[str, list[tuple[list[float], float]]] = {label: [] for label in modes}
    with tempfile.TemporaryDirectory() as tmp:
        # The model stays loaded in this process from one build to the next: loaded here
        # first, so that no mode pays for it.
        warm = Path(tmp) / "warm-up"
        warm.mkdir()
        runner.build(runner.open_pipeline(catalogue_pipeline(warm, args, 0), progress=False), until="render")
        for r in range(args.rounds):
            for label, mode in modes.items():
                albums = open_catalogue(Path(tmp) / f"{r}-{label.replace(' ', '-')}", args)
                with mode():
                    results = catalogue.build_catalogue(albums)
                assert all(res.error is None for res in results), [res.error for res in results]
                done, wall = albums_done([ctx.album_dir for _, ctx in albums])
                runs[label].append((done, wall))
                print(f"  {label}: albums done at {', '.join(f'{t:.1f}' for t in done)} s",
                      file=sys.stderr, flush=True)
    print(f"{args.catalogue} albums x {args.tracks} tracks x {args.takes} takes x {args.duration:g} s, "
          f"{args.retry_rounds} retry round(s) of 1 take per track, tiny model, CPU ({os.cpu_count()} cores), "
          f"render batch {args.batch}, {args.workers} CPU worker(s), torch threads {max(1, args.local_threads)}, "
          f"best of {args.rounds} (by first album done)")
    best = {label: min(r, key=lambda dw: dw[0][0]) for label, r in runs.items()}
    print(f"{'mode':24} {'first album s':>14} {'mean album s':>13} {'wall s':>7}")
    for label, (done, wall) in best.items():
        print(f"{label:24} {done[0]:14.1f} {sum(done) / len(done):13.1f} {wall:7.1f}")
    (new, new_wall), (old, old_wall) = best["by album"], best["first come first served"]
    print(f"by album / first come first served: first album done {new[0] / old[0]:.2f}x, "
          f"mean album done {sum(new) / sum(old):.2f}x, wall {new_wall / old_wall:.2f}x")


def build_both_ways(folder: Path, args, label: str, kind: str = "local") -> list[Path]:
    """The catalogue built on one frontier, or ("one after another") each album its own
    frontier and executor in turn, as before; its album folders."""
    from albumgen.engine import catalogue, runner

    albums = open_catalogue(folder / label.replace(" ", "-"), args, kind)
    if label == "one frontier":
        results = catalogue.build_catalogue(albums)
    else:
        results = [catalogue.AlbumResult(p, ctx, runner.build(ctx)) for p, ctx in albums]
    assert all(res.error is None for res in results), [res.error for res in results]
    return [ctx.album_dir for _, ctx in albums]


def actor_shares(albums: list[Path]) -> dict[int, float]:
    """Per render actor, its rendering seconds over the wall time after its warm-up (the
    end of its first batch) to the end of the catalogue's last render batch."""
    done = [e for album in albums for e in Manifest(album).events() if e["event"] == "batch_done"]
    last = max(e["ts"] for e in done)
    shares = {}
    for actor in sorted({e["actor"] for e in done}):
        mine = sorted((e for e in done if e["actor"] == actor), key=lambda e: e["ts"])
        if len(mine) > 1 and last > mine[0]["ts"]:
            shares[actor] = sum(e["seconds"] for e in mine[1:]) / (last - mine[0]["ts"])
    return shares


def album_bytes(album: Path) -> tuple[int, int, int, int]:
    """Bytes put and fetched by the driver, read on the node that made them, and the
    album's picked takes and MP3s, for one album of a Ray build."""
    m = Manifest(album)
    moved = [e for e in m.events() if e["event"] == "object_store"]
    kept = sum((album / r.data["wav"]).stat().st_size for r in m.records("pick"))
    kept += sum(p.stat().st_size for p in album.glob("*.mp3"))
    return (sum(e["put"] for e in moved), sum(e["fetched"] for e in moved), sum(e["on_node"] for e in moved), kept)


def run_ray_catalogue(args) -> None:
    import ray

    ray.init(num_cpus=args.cpus, resources={"albumgen_render": args.actors}, include_dashboard=False,
             log_to_driver=False)
    walls: dict[str, list[float]] = {"one frontier": [], "one after another": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for label in walls:
                albums = build_both_ways(Path(tmp) / str(r), args, label, "ray")
                starts = [e["ts"] for a in albums for e in Manifest(a).events() if e["event"] == "build_start"]
                ends = [e["ts"] for a in albums for e in Manifest(a).events() if e["event"] == "build_done"]
                walls[label].append(max(ends) - min(starts))
                print(f"  {label}: {walls[label][-1]:.1f} s", file=sys.stderr, flush=True)
                if label == "one frontier":
                    shares, moved = actor_shares(albums), [album_bytes(a) for a in albums]
    ray.shutdown()
    print(f"{args.catalogue} albums x {args.tracks} tracks x {args.takes} takes x {args.duration:g} s, tiny model, "
          f"Ray on this machine ({os.cpu_count()} cores): {args.cpus} CPUs, {args.actors} render actors, "
          f"render batch {args.batch}; best of {args.rounds}")
    one, seq = min(walls["one frontier"]), min(walls["one after another"])
    print(f"wall s: one frontier {one:.1f}, one after another {seq:.1f}, ratio {one / seq:.2f}x")
    print("busy share after warm-up (last round, one frontier): " +
          ", ".join(f"actor {a} {s:.0%}" for a, s in shares.items()))
    put, fetched, on_node, kept = (sum(col) / len(moved) for col in zip(*moved))
    print(f"per album (mean): put {put / 1e3:.0f} kB, fetched {fetched / 1e3:.0f} kB, read on the render node "
          f"{on_node / 1e3:.0f} kB; picked takes + MP3s {kept / 1e3:.0f} kB; "
          f"(put + fetched) / (picked takes + MP3s) {(put + fetched) / kept:.2f}x")


def run_catalogue(args) -> None:
    import torch

    torch.set_num_threads(max(1, args.local_threads))
    runs: dict[str, list[tuple[float, float]]] = {"one frontier": [], "one after another": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for label in runs:
                busy, wall = device_share(build_both_ways(Path(tmp) / str(r), args, label))
                runs[label].append((busy, wall))
                print(f"  {label}: device busy {busy:.1f} s of {wall:.1f} s ({busy / wall:.0%})",
                      file=sys.stderr, flush=True)
    print(f"{args.catalogue} albums x {args.tracks} tracks x {args.takes} takes x {args.duration:g} s, tiny model, "
          f"CPU ({os.cpu_count()} cores), render batch {args.batch}, {args.workers} CPU worker(s), "
          f"torch threads {max(1, args.local_threads)}, best of {args.rounds}")
    best = {label: max(r, key=lambda bw: bw[0] / bw[1]) for label, r in runs.items()}
    one, seq = best["one frontier"], best["one after another"]
    print(f"{'mode':18} {'busy s':>7} {'wall s':>7} {'busy share':>11}")
    for label, (busy, wall) in best.items():
        print(f"{label:18} {busy:7.1f} {wall:7.1f} {busy / wall:10.0%}")
    print(f"busy share, one frontier / one after another: {(one[0] / one[1]) / (seq[0] / seq[1]):.2f}x; "
          f"wall time, one frontier / one after another: {one[1] / seq[1]:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--catalogue", type=int, default=0, help="albums: compare one frontier with one after another")
    ap.add_argument("--workers", type=int, default=1, help="--catalogue: executor.workers (CPU unit processes)")
    ap.add_argument("--order", action="store_true",
                    help="--catalogue: when each album is done, served by album vs first come first served")
    ap.add_argument("--retry-rounds", type=int, default=0, help="--catalogue: pick.max_rounds (1 take per round)")
    ap.add_argument("--ray", action="store_true", help="--catalogue: on a local Ray cluster, per-actor busy share")
    ap.add_argument("--actors", type=int, default=2, help="--catalogue --ray: render actors")
    ap.add_argument("--tracks", type=int, default=8)
    ap.add_argument("--takes", type=int, default=2)
    ap.add_argument("--duration", type=float, default=8.0)
    ap.add_argument("--batch", type=int, default=2, help="render.batch_size: the batches actors take from the queue")
    ap.add_argument("--cpus", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--local-threads", type=int, default=1, help="torch threads of the local build (0: default)")
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.catalogue:
        return run_order(args) if args.order else run_ray_catalogue(args) if args.ray else run_catalogue(args)
    import ray
    import torch

    from albumgen.engine import runner

    if args.local_threads:
        torch.set_num_threads(args.local_threads)
    ray.init(num_cpus=args.cpus, resources={"albumgen_render": 2}, include_dashboard=False, log_to_driver=False)
    runs: dict[str, list] = {label: [] for label, *_ in MODES}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.rounds):
            for label, kind, actors in MODES:
                folder = Path(tmp) / f"{n}-{kind}-{actors}"
                folder.mkdir(parents=True)
                ctx = runner.open_pipeline(pipeline(folder, args, kind, actors), progress=False)
                runner.build(ctx, until="render")
                takes, total, steady = render_seconds(ctx.album_dir)
                runs[label].append((takes, total, steady))
                print(f"  {label}: {takes} takes in {total:.1f} s ({steady:.1f} s steady)", file=sys.stderr, flush=True)
    ray.shutdown()
    print(f"{args.tracks} tracks x {args.takes} takes x {args.duration:g} s, tiny model, CPU, batch {args.batch}, "
          f"{args.cpus} CPUs, local torch threads {args.local_threads or 'default'}, best of {args.rounds}")
    rates = {label: (max(t / a for t, a, _ in r), max((t - args.batch) / s for t, _, s in r)) for label, r in runs.items()}
    print(f"{'mode':10} {'takes/s':>8} {'vs local':>9} {'vs ray x 1':>11} {'steady/s':>9} {'vs local':>9} {'vs ray x 1':>11}")
    for label, (rate, steady) in rates.items():
        print(f"{label:10} {rate:8.3f} {rate / rates['local'][0]:8.2f}x {rate / rates['ray x 1'][0]:10.2f}x "
              f"{steady:9.3f} {steady / rates['local'][1]:8.2f}x {steady / rates['ray x 1'][1]:10.2f}x")


if __name__ == "__main__":
    main()
