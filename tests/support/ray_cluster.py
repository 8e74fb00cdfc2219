"""A private Ray cluster for one test: `ray start --head` with its own ports, temp folder
and session, stopped by killing that session's processes (never `ray stop`, which stops
every Ray cluster of the machine)."""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from processes import session, wait_gone


class Cluster:
    # Its own: no token from a ~/.ray/auth_token that another cluster of the machine made
    # (a driver given this env connects without one).
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}

    def __init__(self, cpus: int = 2, render_actors: int = 1):
        self.cpus, self.render_actors = cpus, render_actors
        self.sid: int | None = None
        # Short: Ray's unix sockets live under it, and a socket path has ~100 bytes at most.
        self.temp = tempfile.mkdtemp(prefix="agray", dir="/tmp")
        self.address = ""

    def start(self) -> Cluster:
        for _ in range(3):  # a port another process holds: try another range
            base = random.randrange(20000, 40000, 100)
            ports = {"port": base, "node-manager-port": base + 1, "object-manager-port": base + 2,
                     "dashboard-agent-grpc-port": base + 3, "dashboard-agent-listen-port": base + 4,
                     "metrics-export-port": base + 5, "runtime-env-agent-port": base + 6,
                     "min-worker-port": base + 10, "max-worker-port": base + 90}
            cmd = [str(Path(sys.executable).parent / "ray"), "start", "--head", f"--temp-dir={self.temp}",
                   f"--num-cpus={self.cpus}", f'--resources={{"albumgen_render": {self.render_actors}}}',
                   "--include-dashboard=false", "--disable-usage-stats",
                   *(f"--{k}={v}" for k, v in ports.items())]
            proc = subprocess.Popen(cmd, env=self.env, start_new_session=True, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
            out = proc.communicate(timeout=180)[0]
            self.sid = proc.pid  # the head's processes stay in the session `ray start` made
            if proc.returncode == 0:
                self.address = f"127.0.0.1:{base}"
                return self
            self.stop()
        raise RuntimeError(f"ray start failed: {out[-2000:]}")

    def stop(self) -> None:
        """The head machine gone at once: every process of the cluster SIGKILLed."""
        if self.sid is None:
            return
        pids = session(self.sid)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_gone(pids, 10)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.temp, ignore_errors=True)
