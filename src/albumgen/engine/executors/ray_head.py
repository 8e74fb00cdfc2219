"""executor.address: find out, before any album is touched, that a Ray head answers there.

ray.init(address=...) on an address where nothing listens retries for minutes and logs
a wall of warnings; a wrong port or a head that was never started is a user's mistake
that deserves one line, at once.
"""
from __future__ import annotations

import socket

from ...errors import ConfigError, StageError

GCS_PORT = 6379  # `ray start --head` default
CLIENT_PORT = 10001  # Ray Client (ray://) default
PROBE_SECONDS = 5.0


def split_address(address: str) -> tuple[str, int] | None:
    """(host, port) of a cluster address, or None for the ones Ray resolves itself:
    "auto" (a cluster already running on this machine) and "local" (start one)."""
    if address in ("auto", "local"):
        return None
    client = address.startswith("ray://")
    rest = address[len("ray://"):] if client else address
    host, sep, port = rest.rpartition(":") if ":" in rest else (rest, "", "")
    host = host.strip("[]")  # [::1]:6379
    if not host or (sep and not port.isdigit()) or (sep and not 0 < int(port) < 65536):
        raise ConfigError(f"executor.address: {address!r} is not a Ray address",
                          "write HOST:PORT of the head node, e.g. 10.0.0.5:6379 (or ray://HOST:10001, or auto)")
    return host, int(port) if sep else (CLIENT_PORT if client else GCS_PORT)


def check_reachable(address: str | None) -> None:
    """Raise a ConfigError when nothing listens at the head's address."""
    if not address:
        return
    where = split_address(address)
    if where is None:
        return
    host, port = where
    try:
        socket.create_connection((host, port), timeout=PROBE_SECONDS).close()
    except OSError as e:
        why = "timed out" if isinstance(e, TimeoutError) else (e.strerror or str(e)).lower()
        raise ConfigError(f"executor.address: no Ray head answers at {host}:{port} ({why})",
                          f"start one there with `ray start --head --port={port}`, or fix executor.address") from None


def answers(address: str, timeout: float = 1.0) -> bool:
    """The head's GCS port ("host:port") takes a connection now."""
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except (OSError, ValueError):
        return False
    return True


def lost_head_error(address: str) -> StageError:
    return StageError(f"lost the Ray head at {address}: it stopped answering",
                      "start the cluster again (`ray start --head`) and run the same build; every recorded unit is kept")
