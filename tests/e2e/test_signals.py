"""What really happens to a long build, done for real: a terminal's Ctrl-C to the whole
process group (workers included), once and twice, a pool worker SIGKILLed mid-unit, and
a SIGKILLed driver whose workers must not outlive it."""
from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import signal
import subprocess
import sys
import termios
import threading
import time

import pytest
from helpers import run_cli, write_pipeline
from processes import ENV, album_digest, alive, busy_worker, session, start_build, wait_gone, workers

from albumgen.engine.store.manifest import Manifest

# Three tracks of two takes, a batch per track: the signal lands in the second batch. Takes
# of 30 s keep a batch in flight for a second or more (the tiny model renders ~50 audio
# seconds a second on a core: 8 s takes were done before a signal 0.3 s later landed).
PIPELINE = {"album": {"tracks": 3}, "render": {"takes": 2, "duration": 30.0, "batch_size": 2}}
NOISE = ("Traceback", "terminate called", "BrokenProcessPool", "KeyboardInterrupt", "Aborted")


def takes(album) -> int:
    return len(Manifest(album).records("render")) if (album / "manifest").is_dir() else 0


def wait_for(proc, what, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the build never got there"
        time.sleep(0.05)


def finish(proc, timeout: float = 300) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory):
    """The album as a build that nothing happened to makes it."""
    folder = tmp_path_factory.mktemp("undisturbed")
    r = run_cli("build", str(write_pipeline(folder, PIPELINE)))
    assert r.returncode == 0, r.stderr
    return album_digest(folder / "albums" / "test-album")


def resumed_equals(pipeline, album, undisturbed) -> None:
    r = run_cli("build", str(pipeline))
    assert r.returncode == 0, r.stderr
    assert album_digest(album) == undisturbed
    assert not list(album.rglob(".*tmp*"))


# A terminal's Ctrl-C, and a SIGTERM to the whole group (`kill -TERM -PGID`, `timeout`,
# systemd's stop): the same stop, each with its shell's exit code.
GROUP_SIGNALS = [(signal.SIGINT, "Ctrl-C", "Ctrl-C again", 130), (signal.SIGTERM, "SIGTERM", "send SIGTERM again", 143)]


@pytest.mark.parametrize(("sig", "said", "again", "code"), GROUP_SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_a_signal_to_the_process_group_keeps_the_batch_in_flight(tmp_path, undisturbed, sig, said, again, code):
    pipeline = write_pipeline(tmp_path, PIPELINE)
    album = tmp_path / "albums" / "test-album"
    proc = start_build(pipeline)
    try:
        wait_for(proc, lambda: takes(album) >= 2)
        time.sleep(0.1)  # the next batch starts as soon as the first is recorded
        pool = workers(proc.pid)
        assert pool, "the pool workers must be there to get the group's signal"
        at_signal = takes(album)  # 2, or 4 on a machine fast enough to finish the second batch by now
        os.killpg(proc.pid, sig)  # what a terminal does: the driver and every worker
        sent = time.monotonic()
        time.sleep(0.3)  # the batch in flight renders for seconds more
        assert [alive(p) for p in pool] == [True] * len(pool), "a worker acted on the group's signal"
        _, err = finish(proc)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == code, err
    assert not [w for w in NOISE if w in err], err
    assert re.search(rf"^{said}: stopping after the batch in flight \(2 takes(, ETA \d:\d\d:\d\d)?\)"
                     rf".*; {again} to stop now$", err, re.M), err
    # The workers left the signal to the driver: none died, none was replaced.
    assert not [e for e in Manifest(album).events() if e["event"] in ("worker_died", "worker_pool_restarted")]
    kept = takes(album)
    assert at_signal in (2, 4) and kept == at_signal + 2, "the batch in flight is finished and recorded"
    assert err.splitlines()[-1] == f"Interrupted: kept {kept} takes; run the same build again to resume", err
    assert took < 60
    assert wait_gone(session(proc.pid), 10) == []
    resumed_equals(pipeline, album, undisturbed)
    events = Manifest(album).events()
    redone = [e["unit"] for e in events if e["event"] == "unit_done" and e["stage"] == "render"]
    assert sorted(redone) == sorted(set(redone)) and len(redone) == 6, "no take is rendered twice"


@contextlib.contextmanager
def in_a_terminal(pipeline, ignore_hangup: bool = False):
    """`albumgen build` as a login shell's job: its own session, whose controlling terminal is
    a pty; a thread reads the screen (or the build would block writing). Yields the process,
    what the screen showed, and `hang_up()`, which closes the terminal (SIGHUP to the group)."""
    terminal, tty = os.openpty()

    def own_terminal():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        if ignore_hangup:
            signal.signal(signal.SIGHUP, signal.SIG_IGN)

    proc = subprocess.Popen([sys.executable, "-m", "albumgen", "build", str(pipeline)], env=ENV,
                            stdin=tty, stdout=tty, stderr=tty, preexec_fn=own_terminal)
    os.close(tty)
    shown, reading = bytearray(), threading.Event()
    reading.set()

    def read_screen():
        while reading.is_set():
            if select.select([terminal], [], [], 0.05)[0]:
                try:
                    shown.extend(os.read(terminal, 65536))
                except OSError:
                    return

    reader = threading.Thread(target=read_screen, daemon=True)
    reader.start()

    def hang_up():
        reading.clear()
        reader.join()
        os.close(terminal)

    try:
        yield proc, shown, hang_up
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_a_closed_terminal_keeps_the_batch_in_flight(tmp_path):
    """The build runs in a real terminal (a pty it holds as its controlling terminal) and
    the terminal goes away, as an SSH connection drops: the kernel sends SIGHUP to the
    whole foreground group, and every write to the terminal fails from then on. (Resuming
    after the stop is the same as after Ctrl-C, tested above.)"""
    pipeline = write_pipeline(tmp_path, PIPELINE)
    album = tmp_path / "albums" / "test-album"
    with in_a_terminal(pipeline) as (proc, shown, hang_up):
        wait_for(proc, lambda: takes(album) >= 2)
        time.sleep(0.1)
        pool = workers(proc.pid)
        assert pool, "the pool workers must be there to get the hangup"
        at_signal = takes(album)
        hang_up()  # the terminal is gone: SIGHUP to the foreground group
        time.sleep(0.3)
        assert [alive(p) for p in pool] == [True] * len(pool), "a worker acted on the hangup"
        proc.wait(timeout=300)
    assert proc.returncode == 129
    assert b"render" in shown and not [w for w in NOISE if w.encode() in shown], bytes(shown)
    assert not [e for e in Manifest(album).events() if e["event"] in ("worker_died", "worker_pool_restarted")]
    assert at_signal in (2, 4) and takes(album) == at_signal + 2, "the batch in flight is finished and recorded"
    assert wait_gone(session(proc.pid), 10) == []


def test_a_build_that_ignores_the_hangup_finishes_without_its_terminal(tmp_path):
    """`trap '' HUP`, or nohup without its redirection: the build goes on, and its writes
    to the terminal that is gone (EIO) neither stop it nor turn into an error."""
    pipeline = write_pipeline(tmp_path, {"album": {"tracks": 2}, "render": {"takes": 1, "duration": 3.0},
                                         "executor": {"workers": 0}})  # no pool to start: only the hangup matters
    album = tmp_path / "albums" / "test-album"
    with in_a_terminal(pipeline, ignore_hangup=True) as (proc, _, hang_up):
        wait_for(proc, lambda: takes(album) >= 1)
        hang_up()
        proc.wait(timeout=300)
    assert proc.returncode == 0
    assert len(list(album.glob("*.mp3"))) == 2


def test_ctrl_c_while_the_workers_import_is_no_traceback(tmp_path):
    """The workers import numba and librosa for seconds at start-up: a Ctrl-C then reached
    them as a KeyboardInterrupt mid-import (a long traceback, then a broken pool)."""
    pipeline = write_pipeline(tmp_path, PIPELINE)
    proc = start_build(pipeline)
    try:
        wait_for(proc, lambda: workers(proc.pid), timeout=120)
        time.sleep(0.5)  # a worker is importing now (seconds on any machine)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = finish(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert not [w for w in NOISE if w in err], err
    assert err.splitlines()[-1].startswith("Interrupted: kept "), err
    assert wait_gone(session(proc.pid), 10) == []


def test_ctrl_c_twice_stops_at_once(tmp_path, undisturbed):
    pipeline = write_pipeline(tmp_path, PIPELINE)
    album = tmp_path / "albums" / "test-album"
    proc = start_build(pipeline)
    try:
        wait_for(proc, lambda: takes(album) >= 2)
        time.sleep(0.3)
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.05)  # while the batch is still in flight, even on a fast machine
        os.killpg(proc.pid, signal.SIGINT)
        _, err = finish(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert not [w for w in NOISE if w in err], err
    assert "Ctrl-C again to stop now" in err
    assert re.fullmatch(r"Interrupted: kept [24] takes; run the same build again to resume", err.splitlines()[-1]), err
    assert wait_gone(session(proc.pid), 10) == []
    resumed_equals(pipeline, album, undisturbed)


def test_a_worker_killed_mid_unit_is_replaced_and_its_unit_runs_again(tmp_path, undisturbed):
    pipeline = write_pipeline(tmp_path, PIPELINE)
    album = tmp_path / "albums" / "test-album"
    proc = start_build(pipeline)
    try:
        # Past the workers' start-up (imports: a pick is done), a worker that uses CPU is
        # running a unit.
        wait_for(proc, lambda: any(e["event"] == "unit_done" and e["stage"] == "pick"
                                   for e in Manifest(album).events()))
        victim = busy_worker(proc.pid)
        os.kill(victim, signal.SIGKILL)
        _, err = finish(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, err
    events = Manifest(album).events()
    restarts = [e for e in events if e["event"] == "worker_pool_restarted"]
    assert len(restarts) == 1 and restarts[0]["dead"] == ["killed by SIGKILL"], restarts
    # The unit it ran (if the kill did not fall between two units) runs again, once.
    died = [e for e in events if e["event"] == "worker_died"]
    assert [f"{e['stage']}/{e['unit']}" for e in died] == restarts[0]["running"], died
    for e in died:
        assert e["how"] == "killed by SIGKILL" and e["run"] == 1, died
        assert f"the worker process running {e['stage']} unit {e['unit']} died (killed by SIGKILL); " \
               "running it again in a new worker (run 2 of 4)" in err, err
    assert "Traceback" not in err
    assert album_digest(album) == undisturbed
    assert not list(album.rglob(".*tmp*"))


def test_a_worker_killed_every_time_stops_the_build_with_one_line(tmp_path):
    pipeline = write_pipeline(tmp_path, PIPELINE)
    album = tmp_path / "albums" / "test-album"
    proc = start_build(pipeline)
    killed = 0
    try:
        wait_for(proc, lambda: takes(album) >= 2)
        while proc.poll() is None and killed < 20:
            try:
                victim = busy_worker(proc.pid, timeout=60)
            except AssertionError:
                break
            os.kill(victim, signal.SIGKILL)
            killed += 1
        _, err = finish(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 8, err
    assert re.fullmatch(r"Error: (pick|sequence|master) unit \S+: its worker process died 4 times "
                        r"\(last: killed by SIGKILL\) \(out of memory\? free some memory or lower "
                        r"executor.workers, then run the same build again\)", err.splitlines()[-1]), err
    assert "Traceback" not in err
    assert takes(album) >= 2, "what was recorded stays recorded"


def test_the_workers_of_a_killed_driver_end_with_it(tmp_path):
    pipeline = write_pipeline(tmp_path, PIPELINE)
    album = tmp_path / "albums" / "test-album"
    proc = start_build(pipeline)
    try:
        wait_for(proc, lambda: takes(album) >= 2 and workers(proc.pid))
        pool = workers(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert wait_gone(pool, 5) == [], "pool workers outlived their driver"
        assert wait_gone(session(proc.pid), 5) == [], "a process of the build outlived it"
    finally:
        for pid in session(proc.pid):
            os.kill(pid, signal.SIGKILL)


def test_a_ctrl_c_before_a_command_takes_signals_over_or_after_it_gave_them_back_is_one_line(tmp_path, undisturbed):
    """Seconds of imports come before a build handles Ctrl-C, and the interpreter's exit
    after: a Ctrl-C there is the same one line and exit 130, not a traceback or a death by
    the signal itself."""
    pipeline = write_pipeline(tmp_path, PIPELINE)
    proc = start_build(pipeline)
    time.sleep(0.5)  # importing the CLI (pydantic, click, the stages' registry) on most machines
    os.killpg(proc.pid, signal.SIGINT)
    _, err = finish(proc, timeout=60)
    assert proc.returncode == 130, err
    assert not [w for w in NOISE if w in err], err
    assert err.splitlines()[-1].startswith("Interrupted: "), err

    assert run_cli("build", str(pipeline)).returncode == 0
    # At the end: the album is built, so the build says "Nothing to do" and exits; Ctrl-C
    # again and again from that line on, until the process is gone.
    proc = start_build(pipeline)
    try:
        assert proc.stdout.readline().startswith("Nothing to do"), proc.communicate()
        while proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            time.sleep(0.002)
        err = proc.stderr.read()
    finally:
        finish(proc)
    assert proc.returncode in (0, 130), err
    assert not [w for w in NOISE if w in err], err
    assert len(err.splitlines()) <= 1, err
