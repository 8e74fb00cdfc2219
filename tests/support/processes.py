"""Real processes for fault tests, read from /proc (no psutil): a build started as a
terminal starts it (its own session and process group), its workers, their CPU time."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def start_build(pipeline: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    """`albumgen build` as a shell starts a foreground job: its own process group, which a
    terminal's Ctrl-C reaches as a whole (os.killpg(proc.pid, SIGINT))."""
    return subprocess.Popen([sys.executable, "-m", "albumgen", "build", str(pipeline), *args],
                            env={**ENV, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2:].split()  # fields from the state on (the name may hold spaces)


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper is gone: it holds no memory)."""
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def session(sid: int) -> list[int]:
    """Live processes of a session: everything a build started in its own session left."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None and st[0] not in ("Z", "X") and int(st[3]) == sid:
                out.append(int(entry))
    return out


def workers(driver: int) -> list[int]:
    """The driver's pool worker processes (multiprocessing spawn children)."""
    out = []
    for pid in session(os.getpgid(driver)) if alive(driver) else []:
        st = _stat(pid)
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if st is not None and int(st[1]) == driver and b"--multiprocessing-fork" in cmd:
            out.append(pid)
    return out


def cpu_ticks(pid: int) -> int:
    st = _stat(pid)
    return int(st[11]) + int(st[12]) if st else -1  # utime + stime


def busy_worker(driver: int, timeout: float = 120) -> int:
    """A worker that is using CPU now (running a unit, not idle on its pipe)."""
    deadline = time.monotonic() + timeout
    last: dict[int, int] = {}
    while time.monotonic() < deadline:
        for pid in workers(driver):
            ticks = cpu_ticks(pid)
            if pid in last and ticks > last[pid]:
                return pid
            last[pid] = ticks
        time.sleep(0.1)
    raise AssertionError("no worker got busy in time")


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [p for p in pids if alive(p)]
        if not left:
            return []
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


def album_digest(album: Path) -> dict[str, str]:
    """What a user keeps of an album: the takes' audio and tokens, the MP3s, their order."""
    return {p.relative_to(album).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(album.rglob("*"))
            if p.is_file() and p.suffix in (".wav", ".codes", ".mp3", ".m3u8", ".jpg")}
