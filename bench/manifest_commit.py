"""Commit time against manifest size: a commit must cost the same at 10,000 records as at 100.

    python bench/manifest_commit.py [--sizes 100,1000,10000] [--commits 200]

For each size, a manifest is filled to that many records (written straight into the
snapshot, which is how a compacted album looks), then `--commits` more units are committed
one by one, each with one small output file, as render does per take. Prints ms per
commit and the ratio to the smallest size; the goal is <= 2x at 10,000 vs 100. Also times
opening the manifest (what `status` and every build pay once) and one compaction, and,
side by side, the reference: a commit that rewrites the whole snapshot, as schema 1 did.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from albumgen.engine.store import atomic  # noqa: E402
from albumgen.engine.store.manifest import Manifest, OutputRef, Record  # noqa: E402


def fill(album: Path, n: int) -> None:
    m = Manifest(album)
    ref = OutputRef(sha256="0" * 64, size=1, mtime_ns=1)
    for i in range(n):
        unit = f"t{i // 8:03d}/take-{i % 8 + 1}"
        m.state.records[f"render/{unit}"] = Record(
            key=f"{i:064x}", stage="render", unit=unit, data={"seed": i, "prompt": "calm piano, 80 bpm" * 3},
            outputs={f"manifest/takes/{unit}.wav": ref, f"manifest/takes/{unit}.codes": ref}, finished_at=0.0,
            seconds=1.0)
    m.store.journal_ops = 1
    m.compact()


def measure(sizes: list[int], commits: int, rounds: int = 10) -> dict:
    """Commits to every size in turn, round after round: on a shared machine the load
    drifts, and interleaving lets every size see the same drift."""
    with tempfile.TemporaryDirectory() as tmp:
        rows, manifests, outs = {}, {}, {}
        for n in sizes:
            album = Path(tmp) / str(n)
            fill(album, n)
            t0 = time.perf_counter()
            manifests[n] = Manifest(album)
            rows[n] = {"open_ms": (time.perf_counter() - t0) * 1e3, "times": []}
            outs[n] = album / "manifest" / "bench" / "out.json"
            atomic.write_bytes(outs[n], b"{}")
        for r in range(rounds):
            for n in sizes:
                for i in range(commits // rounds):
                    t0 = time.perf_counter()
                    manifests[n].commit(f"bench{r}.{i}", "bench", f"u{r}.{i}", [outs[n]], {"i": i})
                    rows[n]["times"].append(time.perf_counter() - t0)
        for n in sizes:
            t0 = time.perf_counter()
            manifests[n].compact()
            rows[n]["compact_ms"] = (time.perf_counter() - t0) * 1e3
            # The reference: schema 1 rewrote the whole manifest.json on every commit.
            old = []
            for i in range(5):
                t0 = time.perf_counter()
                manifests[n].commit(f"old{i}", "bench", f"old{i}", [outs[n]], {"i": i})
                manifests[n].compact()
                old.append(time.perf_counter() - t0)
            rows[n]["rewrite_ms"] = statistics.median(old) * 1e3
            times = rows[n].pop("times")
            rows[n].update(median_ms=statistics.median(times) * 1e3,
                           mean_ms=statistics.mean(times) * 1e3)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--commits", type=int, default=200)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = measure(sizes, args.commits)
    ref = rows[sizes[0]]["median_ms"]
    old_ref = rows[sizes[0]]["rewrite_ms"]
    print(f"{'records':>8} {'commit median ms':>17} {'mean ms':>8} {'ratio':>6} {'open ms':>8} {'compact ms':>11}"
          f" {'rewrite-all ms (schema 1)':>26} {'ratio':>6}")
    for n, r in rows.items():
        print(f"{n:>8} {r['median_ms']:>17.3f} {r['mean_ms']:>8.3f} {r['median_ms'] / ref:>6.2f} "
              f"{r['open_ms']:>8.1f} {r['compact_ms']:>11.1f} {r['rewrite_ms']:>26.1f} {r['rewrite_ms'] / old_ref:>6.2f}")
    worst = rows[sizes[-1]]["median_ms"] / ref
    print(f"commit at {sizes[-1]} records / at {sizes[0]}: {worst:.2f}x (goal <= 2x)")


if __name__ == "__main__":
    main()
