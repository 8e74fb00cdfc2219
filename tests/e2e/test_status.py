"""`albumgen status` against a real build running in another process, and on albums that were
never built or lost their manifest."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

from helpers import cli, run_cli, write_pipeline

RUNNING = re.compile(r"^build running \(pid (\d+), started \d\d:\d\d, (\d+)/(\d+) takes(, ETA \d+:\d\d)?\)$", re.M)


def test_status_of_a_running_build_says_so_with_album_wide_progress(tmp_path):
    # Long enough takes that several status calls (each a fresh process) land mid-render.
    pipeline = write_pipeline(tmp_path, {"album": {"tracks": 2},
                                         "render": {"takes": 3, "duration": 8.0, "batch_size": 1}})
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    build = subprocess.Popen([sys.executable, "-m", "albumgen", "build", str(pipeline)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen: list[tuple[int, int, int, bool]] = []
    try:
        deadline = time.monotonic() + 300
        while build.poll() is None and time.monotonic() < deadline:
            r = run_cli("status", str(pipeline))
            assert r.returncode == 0, r.stderr
            m = RUNNING.search(r.stdout)
            if m:
                seen.append((int(m[1]), int(m[2]), int(m[3]), bool(m[4])))
            elif build.poll() is None and "not built yet" not in r.stdout:
                # Between the lock and the first record there is nothing to show yet; later
                # every status of a live build must say it is running.
                assert (tmp_path / "albums/test-album/manifest/lock").exists(), r.stdout
        build.wait(timeout=300)
    finally:
        if build.poll() is None:
            build.send_signal(signal.SIGKILL)
            build.wait()
    assert build.returncode == 0, build.stderr.read() if build.stderr else ""
    assert seen, "no status call saw the build running"
    assert all(pid == build.pid and total == 6 for pid, _, total, _ in seen), seen
    assert any(done > 0 and eta for _, done, _, eta in seen), seen  # progress and an ETA once takes finish
    after = cli("status", str(pipeline))
    assert after.exit_code == 0 and "build running" not in after.stdout  # the lock file stays; its holder is gone
    assert "render: 6/6 takes done" in after.stdout


def test_status_of_an_album_not_built_of_a_lost_manifest_and_of_a_moved_prompts_file(tmp_path):
    (tmp_path / "prompts.txt").write_text("warm tape loops over a slow 80 bpm groove\n")
    pipeline = write_pipeline(tmp_path, {"album": {"tracks": 1}, "render": {"takes": 1},
                                         "prompts": {"source": "file", "file": "prompts.txt"}})
    r = cli("status", str(pipeline))
    assert r.exit_code == 0
    assert r.stdout == f"Test Album: not built yet: run albumgen build {pipeline}\n"
    r = cli("repair", str(pipeline))
    assert (r.exit_code, r.stdout) == (0, f"Nothing to repair: {tmp_path / 'albums/test-album'} does not exist yet "
                                          f"(albumgen build {pipeline} makes it)\n")
    assert cli("gc", str(pipeline)).exit_code == 0
    assert not (tmp_path / "albums").exists()  # status, repair and gc write nothing to an album never built
    assert cli("build", str(pipeline)).exit_code == 0
    manifest = tmp_path / "albums/test-album/manifest"
    for name in ("manifest.json", "journal.jsonl"):
        (manifest / name).unlink(missing_ok=True)
    r = cli("status", str(pipeline))
    assert r.exit_code == 3
    assert r.stdout == f"Test Album: manifest missing: run albumgen repair {pipeline}\n"
    assert cli("repair", str(pipeline)).exit_code == 0
    assert cli("status", str(pipeline)).exit_code == 0
    # Cut short (a full disk, a hand edit): damaged, not missing, and said how.
    snapshot = manifest / "manifest.json"
    snapshot.write_bytes(snapshot.read_bytes()[:100])
    r = cli("status", str(pipeline))
    assert r.exit_code == 3
    assert r.stdout.startswith(f"Test Album: manifest damaged ({snapshot} is not valid JSON: ")
    assert r.stdout.endswith(f"): run albumgen repair {pipeline}\n")
    assert cli("repair", str(pipeline)).exit_code == 0
    # The prompts file moved away: the album on disk still shows; the line says what the next build meets.
    (tmp_path / "prompts.txt").rename(tmp_path / "moved.txt")
    r = cli("status", str(pipeline))
    assert r.exit_code == 0, r.output
    assert "t01" in r.stdout and "render: 1/1 takes done" in r.stdout
    assert "prompts: the next build stops here: prompts.file: prompts.txt not found" in r.stdout


def test_status_shows_choices_waiting_for_the_next_build(tmp_path):
    pipeline = write_pipeline(tmp_path, {"album": {"tracks": 2}, "render": {"takes": 2}})
    assert cli("build", str(pipeline)).exit_code == 0
    r = cli("status", str(pipeline))
    assert "Waiting for the next build" not in r.stdout
    assert cli("pick", str(pipeline), "--track", "1", "--take", "2").exit_code == 0
    assert cli("pick", str(pipeline), "--track", "2", "--more", "2").exit_code == 0
    r = cli("status", str(pipeline))
    assert r.exit_code == 0, r.output
    assert r.stdout.endswith("Waiting for the next build:\n"
                             "  t01: take 2 chosen, masters on next build\n"
                             "  t02: 2 more takes requested, rendered on next build\n")
    assert cli("build", str(pipeline)).exit_code == 0
    assert "Waiting for the next build" not in cli("status", str(pipeline)).stdout
