"""A soak of the overnight promise: builds of a 4-track tiny album, each hit by a random
real fault, each resumed; every album must equal one nothing happened to.

    python bench/soak.py [--builds 30] [--seed 1] [--duration 4] [--keep DIR]

Faults (one per build, at a random moment while takes render or CPU units run):
  kill-driver   SIGKILL of the build process
  kill-worker   SIGKILL of a pool worker that is running a unit
  ctrl-c        SIGINT to the build's whole process group, as a terminal sends it
  ctrl-c-twice  the same, twice: stop at once
  bad-journal   SIGKILL of the build, then a journal line that is no valid op (a newer
                albumgen's) and a torn last line appended before the resume
  disk-full     the build's folder is a 64 MB tmpfs, filled to the last byte mid-build
                (root only: left out where no tmpfs can be mounted); emptied before the resume

After each fault: how the build ended and how long it took from the fault, whether any
process of the build outlived it (10 s grace), then `albumgen build` again (twice at
most) and the album compared with the undisturbed one (takes, tokens, MP3s, cover,
playlist), and no temporary file left. Prints one row per build and a summary. Not a
test: it takes minutes per build on a small machine (not in `make test`).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))

from helpers import write_pipeline  # noqa: E402
from processes import ENV, album_digest, busy_worker, session, start_build, wait_gone  # noqa: E402

FAULTS = ("kill-driver", "kill-worker", "ctrl-c", "ctrl-c-twice", "bad-journal", "disk-full")


def pipeline_for(folder: Path, duration: float) -> Path:
    return write_pipeline(folder, {"album": {"tracks": 4}, "render": {"takes": 2, "duration": duration,
                                                                      "batch_size": 2}})


def records(album: Path) -> int:
    journal, snapshot = album / "manifest" / "journal.jsonl", album / "manifest" / "manifest.json"
    n = sum(1 for line in journal.read_text().splitlines() if '"put"' in line) if journal.exists() else 0
    if snapshot.exists():
        try:
            n += len(json.loads(snapshot.read_text()).get("records", {}))
        except ValueError:
            pass
    return n


def run_build(pipeline: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "albumgen", "build", str(pipeline)], env=ENV,
                          capture_output=True, text=True, timeout=900)


def inject(fault: str, pipeline: Path, rng: random.Random) -> dict:
    """One faulted build: returns how it ended."""
    album = pipeline.parent / "albums" / "test-album"
    proc = start_build(pipeline)
    at = rng.randint(1, 10)  # records (of any stage) before the fault: render, pick or master time
    deadline = time.monotonic() + 600
    while proc.poll() is None and records(album) < at and time.monotonic() < deadline:
        time.sleep(0.05)
    if proc.poll() is not None:  # it finished first: no fault landed
        proc.communicate()
        return {"fault": fault, "landed": False, "rc": proc.returncode, "stop_s": 0.0, "leaked": 0}
    time.sleep(rng.uniform(0, 1.5))
    group = proc.pid
    sent = time.monotonic()
    if fault in ("kill-driver", "bad-journal"):
        os.kill(proc.pid, signal.SIGKILL)
    elif fault == "disk-full":
        st = os.statvfs(pipeline.parent)
        with open(pipeline.parent / "filler", "wb") as f:
            os.posix_fallocate(f.fileno(), 0, st.f_bavail * st.f_frsize)  # every byte: the next write fails
    elif fault == "kill-worker":
        try:
            os.kill(busy_worker(proc.pid, timeout=30), signal.SIGKILL)
        except (AssertionError, ProcessLookupError):
            pass  # no unit in the workers then: the build just goes on
    else:
        os.killpg(group, signal.SIGINT)
        if fault == "ctrl-c-twice":
            time.sleep(0.3)
            os.killpg(group, signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        os.killpg(group, signal.SIGKILL)
        _, err = proc.communicate()
    stop_s = time.monotonic() - sent
    leaked = wait_gone(session(group), 10)
    for pid in leaked:
        os.kill(pid, signal.SIGKILL)
    (pipeline.parent / "filler").unlink(missing_ok=True)  # room again for the resume
    if fault == "bad-journal":
        with open(album / "manifest" / "journal.jsonl", "a") as f:
            f.write(json.dumps({"op": "rename_everything", "schema": 99}) + "\n")
            f.write('{"op": "put", "record": {"stage": "ren')  # torn: the kill landed mid-line
    noise = [w for w in ("Traceback", "terminate called", "BrokenProcessPool") if w in err]
    return {"fault": fault, "landed": True, "rc": proc.returncode, "stop_s": stop_s, "leaked": len(leaked),
            "noise": noise, "last": err.strip().splitlines()[-1] if err.strip() else ""}


def mount(folder: Path) -> bool:
    return subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(folder)],
                          capture_output=True).returncode == 0


def mountable(top: Path) -> bool:
    probe = top / "probe"
    probe.mkdir(exist_ok=True)
    ok = mount(probe)
    if ok:
        subprocess.run(["umount", "-l", str(probe)], check=False)
    probe.rmdir()
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--builds", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--duration", type=float, default=4.0, help="seconds per take")
    ap.add_argument("--keep", type=Path, help="keep the albums in this folder")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    top = Path(args.keep or tempfile.mkdtemp(prefix="albumgen-soak-"))
    top.mkdir(parents=True, exist_ok=True)
    ref_dir = top / "undisturbed"
    ref_dir.mkdir(exist_ok=True)
    r = run_build(pipeline_for(ref_dir, args.duration))
    assert r.returncode == 0, r.stderr
    reference = album_digest(ref_dir / "albums" / "test-album")
    print(f"{'#':>3} {'fault':13} {'landed':6} {'exit':>4} {'stop s':>6} {'leaked':>6} {'resumes':>7} "
          f"{'equal':5} {'temps':>5}  last line", flush=True)
    rows = []
    faults = FAULTS if mountable(top) else FAULTS[:-1]
    for i in range(1, args.builds + 1):
        folder = top / f"build-{i:02d}"
        folder.mkdir(exist_ok=True)
        fault = rng.choice(faults)
        if fault == "disk-full":
            mount(folder)
        pipeline = pipeline_for(folder, args.duration)
        row = inject(fault, pipeline, rng)
        album = folder / "albums" / "test-album"
        resumes = 0
        for _ in range(2):
            resumes += 1
            if run_build(pipeline).returncode == 0:
                break
        row["resumes"] = resumes
        row["equal"] = album_digest(album) == reference
        row["temps"] = len([p for p in album.rglob(".*tmp*")])
        if fault == "disk-full":  # the tmpfs goes; a kept album is copied off it first
            if args.keep:
                shutil.copytree(folder, top / f"build-{i:02d}-kept", symlinks=True)
            subprocess.run(["umount", "-l", str(folder)], check=False)
        rows.append(row)
        print(f"{i:>3} {row['fault']:13} {'yes' if row['landed'] else 'no':6} {row['rc']:>4} {row['stop_s']:>6.1f} "
              f"{row['leaked']:>6} {resumes:>7} {'yes' if row['equal'] else 'NO':5} {row['temps']:>5}  "
              f"{row.get('last', '')[:70]}{' NOISE ' + ','.join(row['noise']) if row.get('noise') else ''}",
              flush=True)
    bad = [r for r in rows if not r["equal"] or r["leaked"] or r["temps"] or r.get("noise")]
    print(f"\n{len(rows)} builds, {sum(r['landed'] for r in rows)} faults landed: "
          f"{len(rows) - len(bad)} albums equal to the undisturbed one with no leaked process, temporary "
          f"file or traceback; {len(bad)} not")
    for fault in FAULTS:
        stops = [r["stop_s"] for r in rows if r["fault"] == fault and r["landed"]]
        if stops:
            print(f"  {fault:13} {len(stops):>2} landed, stop after the fault: median {sorted(stops)[len(stops) // 2]:.1f} s, "
                  f"max {max(stops):.1f} s")
    if not args.keep:
        shutil.rmtree(top, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
