"""The engine: how a pipeline's stages become a finished album, crash-safe and resumable.

Rooms, top floor first (each imports only the floors below it):

    runner.py      the build session: load a pipeline, lock the album, run, report
    status.py      what a build would do now, and what the album holds
    scheduler.py   the frontier: units run as soon as their inputs exist
    commit.py      a stage's units against the store: plan with keys, commit, recover, prune
    executors/     where units run: local.py (in-process and a process pool),
                   ray.py (a Ray cluster), remote.py (a unit away from the album)
    interrupt.py   Ctrl-C and SIGTERM turned into a clean stop at a safe point
    store/         the record store: manifest.py (the facade stages use), records.py,
                   recovery.py (records rebuilt from files on disk), atomic.py
                   (temporary name, fsync, rename), hashing.py (keys and seeds)

The stage contract (albumgen.stage, albumgen.artifacts, albumgen.registry) sits beside the
engine: stages import it and the engine runs it.
"""
