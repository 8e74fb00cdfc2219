"""The ray executor on a real local Ray cluster: the same album as a local build, with render
actors and CPU workers killed mid-build, and a killed driver resumed."""
from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import kill_build_when, write_pipeline
from remote_fixtures import TAKES, pipeline_in

from albumgen.audio.ffmpeg import decode
from albumgen.cli import main
from albumgen.engine.store.manifest import Manifest

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def cluster():
    """A real local Ray cluster: 2 CPUs, and room for 2 render actors without a GPU."""
    ray.init(num_cpus=2, resources={"albumgen_render": 2}, include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The album as the local executor makes it."""
    folder = tmp_path_factory.mktemp("local")
    build(pipeline_in(folder, {"executor": {"kind": "local", "workers": 1}}))
    return folder / "albums" / "test-album"


def build(pipeline: Path, *args: str) -> str:
    r = CliRunner().invoke(main, ["build", str(pipeline), *args])
    assert r.exit_code == 0, r.output + repr(r.exception)
    return r.output


def events(album: Path, kind: str) -> list[dict]:
    return [e for e in Manifest(album).events() if e["event"] == kind]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_same_album(album: Path, reference: Path) -> None:
    """Same take tokens and audio, same picks, MP3s with the same frames and tags."""
    ours, theirs = Manifest(album), Manifest(reference)
    for uid in TAKES:
        for ext in (".wav", ".codes"):
            rel = f"manifest/takes/{uid}{ext}"
            assert sha(album / rel) == sha(reference / rel), rel
    for tid in ("t01", "t02", "t03"):
        assert ours.record("pick", tid).data == theirs.record("pick", tid).data
        assert ours.record("sequence", tid).data == theirs.record("sequence", tid).data
    mp3s = sorted(theirs.record("master", tid).data["file"] for tid in ("t01", "t02", "t03"))
    assert sorted(p.name for p in album.glob("*.mp3")) == sorted(p.name for p in reference.glob("*.mp3"))
    from mutagen.id3 import ID3

    for name in mp3s:
        a, b = decode(album / name)[0], decode(reference / name)[0]
        assert a.shape == b.shape and (a == b).all(), name
        tags_a, tags_b = ID3(album / name), ID3(reference / name)
        assert sorted(tags_a.keys()) == sorted(tags_b.keys())
        assert all(tags_a[k] == tags_b[k] for k in tags_a.keys()), name
    for rel in ("cover.jpg", "album.json", "test-album.m3u8", "manifest/master/analysis.json"):
        assert sha(album / rel) == sha(reference / rel), rel
    mix = ours.record("master", "mix").data
    assert mix == theirs.record("master", "mix").data
    a, b = decode(album / mix["file"])[0], decode(reference / mix["file"])[0]
    assert a.shape == b.shape and (a == b).all()
    # Sidecars landed beside their files with hashes that hold: repair still works.
    assert Manifest(album).record("render", "t01/take-1").outputs.keys() == \
        Manifest(reference).record("render", "t01/take-1").outputs.keys()


def test_two_render_actors_make_the_local_album(cluster, reference, tmp_path):
    pipeline = pipeline_in(tmp_path)
    output = build(pipeline, "--executor", "ray")
    album = tmp_path / "albums" / "test-album"
    assert_same_album(album, reference)
    # Progress across the actors, one line per batch, ending with every take.
    assert "render: 2/6 on 2 actors" in output and "render: 6/6 on 2 actors" in output and "ETA 0:00:00" in output
    sent = events(album, "batch_sent")
    # Both actors rendered, each batch once, and the batches went out as actors freed up.
    assert {e["actor"] for e in sent} == {0, 1}
    assert sorted(u for e in sent for u in e["units"]) == sorted(TAKES)
    started = events(album, "actor_started")
    assert len(started) == 2 and not events(album, "actor_died")
    # Nothing runs again on a second build, on either executor.
    r = CliRunner().invoke(main, ["build", str(pipeline), "--executor", "ray"])
    assert r.exit_code == 0 and "Nothing to do" in r.output


def test_killed_render_actor_and_cpu_worker_are_replaced(cluster, reference, tmp_path):
    pipeline = pipeline_in(tmp_path)
    album = tmp_path / "albums" / "test-album"
    killed: dict = {}
    stop = threading.Event()

    def killer():
        # A render actor: SIGKILL as soon as the third batch went out, to an actor that
        # rendered before (its model is loaded: the kill lands mid-render). A CPU worker:
        # the first pick task seen.
        log = album / "manifest" / "events.jsonl"
        while not stop.is_set() and len(killed) < 2:
            if "actor" not in killed and log.exists():
                sent = [json.loads(line) for line in log.read_text().splitlines() if '"batch_sent"' in line]
                if len(sent) >= 3:  # a batch of 2 takes renders in about a second: kill at once
                    os.kill(sent[2]["pid"], signal.SIGKILL)
                    killed["actor"] = sent[2]
            if "task" not in killed:
                pid = _process_titled("ray::albumgen pick")
                if pid:
                    os.kill(pid, signal.SIGKILL)
                    killed["task"] = pid
            time.sleep(0.01)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        build(pipeline, "--executor", "ray")
    finally:
        stop.set()
        thread.join()
    assert set(killed) == {"actor", "task"}, killed
    assert_same_album(album, reference)
    victim = killed["actor"]
    died = events(album, "actor_died")
    assert len(died) == 1 and died[0]["units"] == victim["units"] and died[0]["pid"] == victim["pid"]
    # The kill landed mid-batch: none of its takes was recorded before the actor died.
    done = Manifest(album).events()
    died_at = next(i for i, e in enumerate(done) if e["event"] == "actor_died")
    assert not [e for e in done[:died_at] if e["event"] == "unit_done" and e.get("unit") in victim["units"]]
    # Ray restarted the actor (a new process) and the batch ran again; no other take twice.
    restarted = events(album, "actor_restarted")
    assert [e["actor"] for e in restarted] == [victim["actor"]] and restarted[0]["pid"] != victim["pid"]
    sent = [u for e in events(album, "batch_sent") for u in e["units"]]
    assert sorted(sent) == sorted([*TAKES, *victim["units"]])
    # Every unit was recorded once, the killed pick included (Ray ran its task again).
    units = [(e["stage"], e["unit"]) for e in events(album, "unit_done")]
    assert len(units) == len(set(units)) and ("pick", "t01") in units


def _process_titled(prefix: str) -> int | None:
    """A Ray worker names its process after the task it runs (ray::<task name>)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmdline.startswith(prefix):
            return int(entry.name)
    return None


def test_killed_driver_resumes_locally(cluster, reference, tmp_path):
    # The driver is a separate process on the test's cluster.
    pipeline = pipeline_in(tmp_path, {"executor": {"kind": "ray", "address": cluster}})
    album = tmp_path / "albums" / "test-album"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    # SIGTERM once the first batch went out: albumgen's own stop after the batches in
    # flight (ray.init takes SIGTERM over; the executor gives it back), not Ray's.
    proc = subprocess.Popen([sys.executable, "-m", "albumgen", "build", str(pipeline)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (album / "manifest" / "events.jsonl").exists() or not events(album, "batch_sent"):
        assert proc.poll() is None and time.monotonic() < deadline, "no batch went out"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    # The batches in flight finish first (an actor loads its model for its first batch).
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 143, err
    # albumgen's last line; Ray may still forward its actors' log lines after it, at its exit.
    ours = [line for line in err.strip().splitlines() if not re.match(r"(\x1b\[\d+m)?\(\w+ pid=", line)]
    assert ours[-1].startswith("Interrupted: kept "), err
    # SIGKILL mid-render (none, or a batch recorded before the SIGTERM).
    kill_build_when(pipeline, lambda: len(Manifest(album).records("render")) >= 2, "two takes were rendered",
                    limit=120)
    at_kill = {r.unit: r for r in Manifest(album).records("render")}
    assert 2 <= len(at_kill) < len(TAKES), "the kill must land while takes are rendering"
    files_at_kill = {rel: sha(album / rel) for rec in at_kill.values() for rel in rec.outputs}

    build(pipeline, "--executor", "local")
    m = Manifest(album)
    log = m.events()
    resumed = log[max(i for i, e in enumerate(log) if e["event"] == "build_start"):]
    renders = [e["unit"] for e in resumed if e["event"] == "unit_done" and e["stage"] == "render"]
    recovered = [e["unit"] for e in resumed if e["event"] == "unit_recovered" and e["stage"] == "render"]
    # Recorded on Ray before the kill: neither rendered again nor recovered, kept as it was.
    assert not set(at_kill) & (set(renders) | set(recovered))
    assert set(at_kill) | set(renders) | set(recovered) == TAKES and len(renders) == len(set(renders))
    for rel, digest in files_at_kill.items():
        assert sha(album / rel) == digest, rel
    assert not [p for p in album.rglob(".*tmp*")]
    assert m.record("master", "album") is not None
    assert_same_album(album, reference)


def test_missing_ray_is_one_error_line_and_nothing_runs(tmp_path):
    pipeline = write_pipeline(tmp_path, {"executor": {"kind": "ray"}})
    # `import ray` fails in this process as it does where the extra is not installed.
    code = "import sys; sys.modules['ray'] = None; from albumgen.cli import main; main()"
    for args in (["build", str(pipeline)], ["build", "--executor", "ray", str(write_pipeline(tmp_path, {}, "b.yaml"))]):
        r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120,
                           env={**os.environ, "HF_HUB_OFFLINE": "1"})
        assert r.returncode == 2, r.stderr
        assert r.stderr.strip().splitlines() == [
            "Error: executor.kind: ray needs the ray extra (ray is not installed) "
            "(install it: pip install 'albumgen[ray]')"]
        assert not (tmp_path / "albums").exists()  # nothing ran, nothing was written


def test_records_reach_workers_as_one_snapshot_and_its_changes(cluster, tmp_path):
    """After every change (records put, replaced, dropped), what a worker rebuilds from
    what the executor ships equals the driver's records; the snapshot goes out again only
    when the changes outgrow half of it, so a record crosses about once, not once a wave."""
    from albumgen.engine import runner
    from albumgen.engine.executors.ray import RayExecutor
    from albumgen.engine.executors.remote import open_records
    from albumgen.engine.store.records import Record

    ctx = runner.open_pipeline(pipeline_in(tmp_path), progress=False)
    ex = RayExecutor(ctx)
    store = ctx.manifest.store

    def record(n: int, key: str = "k") -> Record:
        return Record(key=key, stage="render", unit=f"t{n:02d}/take-1", outputs={}, finished_at=float(n), seconds=1.0)

    bases, shipped = set(), []
    for n in range(120):
        store.put(record(n))
        if n % 7 == 3:
            store.put(record(n - 1, key="again"))  # a unit done again: its record replaced
        if n % 11 == 5:
            store.drop(f"render/t{n - 2:02d}/take-1")
        records = ex._state(ctx)
        assert ex._state(ctx) == records  # unchanged records: the same refs, nothing put
        got = open_records(records, ray.get)
        assert got.records == store.state.records and got.album_config_hash == store.state.album_config_hash
        bases.add(records.base)
        shipped.append(len(records.deltas))
    assert 3 <= len(bases) <= 8, len(bases)  # a new snapshot now and then, not at each change
    assert max(shipped) <= 32
    ex.close()
