"""What one scheduler step and one `status` cost on a big album, in the driver.

    python bench/scheduler_step.py [--tracks 99] [--takes 16] [--steps 400]

A real album of `--tracks` tracks (builtin prompts) whose takes are made by a stand-in
executor instead of a model: each render unit writes a short WAV, a codes file and the
real sidecar, exactly the files render records, and is handed back one at a time, so the
frontier takes one step per take as it does when a GPU renders. Everything else is the
engine's own code: planning, keys, readiness, commits, the record store. Units of the later
stages (pick, master...) are submitted to the stand-in and never finish, so the measured
steps are the render phase's: the most numerous steps of a build.

Times are the driver's CPU time (time.process_time), not wall time, so a busy machine
does not move them much; the steps' fsyncs are not in them.

Reported: the median and 95th percentile of a step's driver CPU time (everything between two
finished units: commit, plan, readiness, submit), over the first `--steps` takes and over
the last ones (a step whose cost grows with the album shows up as last >> first), then
`albumgen status`'s table on the finished album, and the review page's poll.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
from standin import PhaseOver, StandIn  # noqa: E402  (the tests' stand-in render)

from albumgen.engine import runner
from albumgen.engine.scheduler import BuildReport, Frontier
from albumgen.engine.status import album_status


def pipeline(folder: Path, tracks: int, takes: int) -> Path:
    data = {"album": {"title": "Step Bench", "slug": "step-bench", "tracks": tracks, "seed": 1},
            "prompts": {"source": "builtin"},
            "render": {"model": "tiny", "takes": takes, "duration": 4, "device": "cpu"},
            "executor": {"workers": 0}}
    path = folder / "pipeline.yaml"
    path.write_text(yaml.safe_dump(data), "utf-8")
    return path


def steps(args, folder: Path) -> tuple[list[float], object]:
    ctx = runner.open_pipeline(pipeline(folder, args.tracks, args.takes), progress=False)
    runner.build(ctx, until="prompts")
    ctx = runner.open_pipeline(folder / "pipeline.yaml", progress=False)
    stages = runner.select_stages(None)
    ex = StandIn(ctx)
    frontier = Frontier(ctx, stages, ex, BuildReport(ctx.album_dir), set())
    try:
        frontier.run()
    except PhaseOver:
        pass
    ctx.manifest.compact()
    # marks: [wait, back, wait, back, ...]: a step runs from a unit's return to the next wait
    m = ex.marks
    return [m[i + 1] - m[i] for i in range(1, len(m) - 1, 2)], ctx


def ms(values: list[float]) -> str:
    v = sorted(values)
    return f"median {1000 * statistics.median(v):7.1f} ms   p95 {1000 * v[int(0.95 * (len(v) - 1))]:7.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=99)
    ap.add_argument("--takes", type=int, default=16)
    ap.add_argument("--steps", type=int, default=400, help="steps counted at each end of the render phase")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.process_time()
        durations, ctx = steps(args, Path(tmp))
        n = min(args.steps, len(durations) // 2)
        print(f"{args.tracks} tracks x {args.takes} takes: {len(durations)} steps in {time.process_time() - t0:.1f} s")
        print(f"  scheduler step, first {n:4d} takes: {ms(durations[:n])}")
        print(f"  scheduler step, last  {n:4d} takes: {ms(durations[-n:])}")
        times = []
        for _ in range(5):
            fresh = runner.open_pipeline(Path(tmp) / "pipeline.yaml", progress=False)  # as the CLI: a new process
            t = time.process_time()
            album_status(fresh)
            times.append(time.process_time() - t)
        print(f"  status (records read + table):     {ms(times)}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
