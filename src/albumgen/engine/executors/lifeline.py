"""A worker process ends with its driver.

A driver killed with SIGKILL (the OOM killer, kill -9, a lost SSH session's hang-up) runs
no cleanup; its pool workers would wait on their pipes forever, each holding its imports
and buffers. On Linux the kernel sends the worker SIGKILL when the driver dies
(PR_SET_PDEATHSIG); elsewhere a thread watches the parent.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # linux/prctl.h
WATCH_SECONDS = 1.0


def die_with_parent(parent: int) -> None:
    """Call first thing in a worker process started by `parent` (its pid).

    PR_SET_PDEATHSIG fires when the thread that started this process ends, not the whole
    process: the pool is started and restarted from the driver's main thread, which lives
    as long as the driver."""
    if not (sys.platform.startswith("linux") and _prctl_pdeathsig()):
        threading.Thread(target=_watch, args=(parent,), name="albumgen-lifeline", daemon=True).start()
    if os.getppid() != parent:  # the driver died before the line above took effect
        os._exit(1)


def _prctl_pdeathsig() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):  # no libc prctl (musl without it, an odd build)
        return False


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_SECONDS)
    os._exit(1)
