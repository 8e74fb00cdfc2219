"""Faults a Ray cluster really has, on a private `ray start --head` cluster: a CPU task's
worker that dies on every retry, a head that goes away mid-build, and a raylet that dies
under the driver (Ray then ends the driver process itself, exit 1, no Python after)."""
from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import pytest
from helpers import run_cli, write_pipeline
from processes import session, start_build
from ray_cluster import Cluster

from albumgen.engine.store.manifest import Manifest

pytest.importorskip("ray")

PIPELINE = {"album": {"tracks": 2}, "render": {"takes": 2, "duration": 4.0, "batch_size": 2}}


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(cpus=2, render_actors=1).start()
    yield c
    c.close()


def takes(album: Path) -> int:
    return len(Manifest(album).records("render")) if (album / "manifest").is_dir() else 0


def raylet(cluster: Cluster) -> int:
    for pid in session(cluster.sid):
        if b"/raylet/raylet" in Path(f"/proc/{pid}/cmdline").read_bytes():
            return pid
    raise AssertionError("the cluster has no raylet")


def ray_worker(prefix: str) -> int | None:
    """A Ray worker names its process after the task it runs (ray::<task name>)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(prefix.encode()):
                    return int(entry.name)
            except OSError:
                continue
    return None


def test_a_task_whose_worker_dies_on_every_retry_is_one_error_line(cluster, tmp_path):
    pipeline = write_pipeline(tmp_path, {**PIPELINE, "executor": {"kind": "ray", "address": cluster.address}})
    proc = start_build(pipeline, env=cluster.env)
    kills = 0
    try:
        deadline = time.monotonic() + 400
        while proc.poll() is None and time.monotonic() < deadline:
            pid = ray_worker("ray::albumgen pick t01")
            if pid:
                os.kill(pid, signal.SIGKILL)
                kills += 1
                time.sleep(0.2)
            time.sleep(0.02)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 8, err
    assert kills >= 4
    assert re.fullmatch(r"Error: pick unit t01: its Ray worker died 4 times \(last: \w+Error: .*\) "
                        r"\(out of memory\? see the Ray logs of that node, then run the same build again\)",
                        err.strip().splitlines()[-1]), err
    assert "internal error" not in err and "Traceback" not in err


def driver(supervisor: int) -> int | None:
    """The Ray driver: the child `albumgen build` the supervisor started."""
    for pid in session(os.getsid(supervisor)):
        st = Path(f"/proc/{pid}/stat").read_text()
        if int(st[st.rindex(")") + 2:].split()[1]) == supervisor and b"albumgen" in Path(f"/proc/{pid}/cmdline").read_bytes():
            return pid
    return None


def test_a_killed_ray_driver_is_one_line_and_what_it_recorded_is_folded(cluster, tmp_path):
    """The OOM killer's pick is the biggest process, often the driver: the albumgen the user
    started is not the driver, so it answers."""
    pipeline = write_pipeline(tmp_path, {**PIPELINE, "executor": {"kind": "ray", "address": cluster.address}})
    album = tmp_path / "albums" / "test-album"
    proc = start_build(pipeline, env=cluster.env)
    try:
        deadline = time.monotonic() + 400
        while takes(album) < 2:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no take was rendered in time"
            time.sleep(0.05)
        os.kill(driver(proc.pid), signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 8, err
    assert err.splitlines()[-1] == ("Error: the Ray driver process was killed by SIGKILL (out of memory? free some "
                                    "memory, then run the same build again; every recorded unit is kept)"), err
    snapshot = json.loads((album / "manifest" / "manifest.json").read_text())
    assert len({k for k in snapshot["records"] if k.startswith("render")}) == takes(album) >= 2
    r = run_cli("build", str(pipeline), "--executor", "local")
    assert r.returncode == 0, r.stderr


def test_a_lost_head_is_one_line_in_seconds_and_what_was_recorded_is_folded(cluster, tmp_path):
    """Stops the module's cluster: the last test that uses it."""
    pipeline = write_pipeline(tmp_path, {**PIPELINE, "album": {"tracks": 3},
                                         "executor": {"kind": "ray", "address": cluster.address}})
    album = tmp_path / "albums" / "test-album"
    proc = start_build(pipeline, env=cluster.env)
    try:
        deadline = time.monotonic() + 400
        while takes(album) < 2:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no take was rendered in time"
            time.sleep(0.05)
        cluster.stop()
        stopped = time.monotonic()
        _, err = proc.communicate(timeout=120)
        took = time.monotonic() - stopped
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 8, err
    lines = [line for line in err.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, err
    assert re.fullmatch(r"Error: lost the Ray head at [\d.]+:\d+: it stopped answering \(start the cluster again "
                        r"\(`ray start --head`\) and run the same build; every recorded unit is kept\)", lines[0])
    assert took < 30, f"{took:.0f} s from the lost head to the exit"
    assert "Traceback" not in err
    # The fold ran: what was recorded is in the snapshot itself, not only in the journal.
    snapshot = json.loads((album / "manifest" / "manifest.json").read_text())
    folded = {k for k in snapshot["records"] if k.startswith("render")}
    assert len(folded) == takes(album) >= 2
    r = run_cli("build", str(pipeline), "--executor", "local")
    assert r.returncode == 0, r.stderr


def test_a_driver_that_ray_ends_is_one_line_and_what_was_recorded_is_folded(tmp_path):
    """The node's raylet dies (its object store with it): Ray's core worker ends the driver
    at its next call into the store, with exit code 1 and no Python after. The albumgen the
    user started outlives its Ray driver: it folds, says so, exits 8."""
    own = Cluster(cpus=2, render_actors=1).start()
    try:
        pipeline = write_pipeline(tmp_path, {**PIPELINE, "album": {"tracks": 3},
                                             "executor": {"kind": "ray", "address": own.address}})
        album = tmp_path / "albums" / "test-album"
        proc = start_build(pipeline, env=own.env)
        try:
            deadline = time.monotonic() + 400
            while takes(album) < 2:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "no take was rendered in time"
                time.sleep(0.05)
            os.kill(raylet(own), signal.SIGKILL)
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    finally:
        own.close()
    assert proc.returncode == 8, err
    lines = [line for line in err.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, err
    # Ray ended the driver at a call into the store, or albumgen heard of the raylet first.
    assert re.fullmatch(r"Error: (Ray ended its driver process \(exit code 1\) \(this node's raylet or object store "
                        r"failed: see the Ray logs of this node, then run the same build again; every recorded unit is "
                        r"kept\)|lost the Ray raylet of this node \(.*\) \(start Ray on this node again and run the "
                        r"same build; every recorded unit is kept\))", lines[0]), lines
    assert "Traceback" not in err
    snapshot = json.loads((album / "manifest" / "manifest.json").read_text())
    folded = {k for k in snapshot["records"] if k.startswith("render")}
    assert len(folded) == takes(album) >= 2
    r = run_cli("build", str(pipeline), "--executor", "local")
    assert r.returncode == 0, r.stderr

