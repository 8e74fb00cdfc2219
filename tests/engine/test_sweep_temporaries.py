"""A killed writer's hidden temporaries are swept; a live writer's are not. A writer that
died but was never reaped (a zombie: a killed build's orphaned worker in a container whose
first process reaps nothing) is dead too."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from albumgen.engine.store import atomic


def state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_bytes().rpartition(b")")[2].split()[0].decode()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="reads process states from /proc")
def test_a_zombie_writer_is_dead_and_a_live_one_is_not(tmp_path):
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])  # never waited for: a zombie once it exits
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        deadline = time.monotonic() + 30
        while state(zombie.pid) != "Z":
            assert time.monotonic() < deadline, "the child never exited"
            time.sleep(0.05)
        left = tmp_path / f".01 - Song.tmp{zombie.pid}.mp3"
        kept = tmp_path / "picks" / f".t01.tmp{live.pid}.json"
        mine = tmp_path / "01 - Song.mp3"  # not a temporary at all
        kept.parent.mkdir()
        for p in (left, kept, mine):
            p.write_bytes(b"x")
        assert atomic.sweep_temporaries(tmp_path) == [left]
        assert not left.exists() and kept.exists() and mine.exists()
    finally:
        live.kill()
        live.wait()
        zombie.wait()
