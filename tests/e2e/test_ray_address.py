"""executor.address where no Ray head listens: one line, at once, nothing written. Ray's
own ray.init would retry for minutes (measured: still retrying after 5 minutes)."""
from __future__ import annotations

import socket
import time

import pytest
from helpers import run_cli, write_pipeline

pytest.importorskip("ray")


def closed_port() -> int:
    with socket.socket() as s:  # a port just freed: nothing listens on it
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("address, said", [
    ("127.0.0.1:{port}", "Error: executor.address: no Ray head answers at 127.0.0.1:{port} (connection refused) "
                         "(start one there with `ray start --head --port={port}`, or fix executor.address)"),
    ("ray://127.0.0.1:{port}", "Error: executor.address: no Ray head answers at 127.0.0.1:{port}"),
    ("head:port", "Error: executor.address: 'head:port' is not a Ray address"),
    ("10.0.0.5:70000", "Error: executor.address: '10.0.0.5:70000' is not a Ray address"),
])
def test_an_address_where_no_head_answers_is_one_line_at_once(tmp_path, address, said):
    port = closed_port()
    pipeline = write_pipeline(tmp_path, {"executor": {"kind": "ray", "address": address.format(port=port)}})
    t0 = time.monotonic()
    r = run_cli("build", str(pipeline), cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().startswith(said.format(port=port)) and len(r.stderr.strip().splitlines()) == 1
    assert time.monotonic() - t0 < 60  # seconds of imports, not ray.init's minutes of retries
    assert not (tmp_path / "albums").exists()  # checked before any album is touched
