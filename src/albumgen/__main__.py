"""`python -m albumgen` and the `albumgen` console script.

A command acts on Ctrl-C and SIGTERM itself (a build stops at a safe point, see
engine/interrupt.py). Before it takes them over (seconds of imports, parsing) and after it
gave them back (the interpreter's exit), a signal would end the process with a traceback,
click's "Aborted!" or by the signal itself: there it is one line and the shell's exit code
(130, 143, 129) instead.
"""
import atexit
import os
import signal
import sys

# Ctrl-C, SIGTERM and a closed terminal's SIGHUP (Windows has none), unless `nohup` said to
# ignore it: then the build goes on without its terminal, as asked.
_HUP = getattr(signal, "SIGHUP", None)
SIGNALS = (signal.SIGINT, signal.SIGTERM) + ((_HUP,) if _HUP and signal.getsignal(_HUP) is not signal.SIG_IGN else ())


def _quit(signum, frame) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a flush interrupted mid-write: what it held is lost, not the exit
            pass
    try:
        os.write(2, b"Interrupted: finished units are kept; run the same command again to resume\n")
    except OSError:  # a closed terminal's SIGHUP: there is no one to tell
        pass
    os._exit(128 + signum)


def _hold() -> None:
    """The last exit handler: past it the interpreter resets Python-level handlers to the
    default, so a signal would end the process by itself. It comes too late to stop
    anything: ignored. Ignored, not blocked: a mask is the calling thread's own, and a signal
    to the process goes to any thread that does not block it (Ray's, the pool's manager);
    an ignored signal the interpreter's exit leaves ignored."""
    for s in SIGNALS:
        signal.signal(s, signal.SIG_IGN)


def run() -> None:
    for s in SIGNALS:
        signal.signal(s, _quit)
    atexit.register(_hold)  # first registered, last to run (after Ray's and multiprocessing's)
    from .cli import app, main

    app.handle_signals_outside_commands(_quit)
    try:
        main()
    finally:
        for stream in (sys.stdout, sys.stderr):  # written out now, before the interpreter's exit
            try:
                stream.flush()
            except OSError:  # the reader left, or the disk is full: it was said, or cannot be
                from .console import to_devnull

                to_devnull(stream.fileno())  # else the interpreter's exit tries, and complains, again


# Guarded: worker processes (spawn) import the driver's __main__ and must not run the CLI.
if __name__ == "__main__":
    run()
