"""A catalogue: several albums built by one process on one frontier.

Every album keeps its own manifest, lock, fold and report (runner.album_session); what they
share is the executor, so the device renders the next album's takes while the album before
picks, sequences and masters on the CPU workers. OPEN_ALBUMS albums are open at a time (in
the order given): a new one opens when one finishes, or, up to MOST_OPEN, when none of the
open ones has device work ahead (their takes are rendered and only their CPU tails are
left: short albums, or a device faster than the CPUs), so the records in memory and the
locks held stay few however long the catalogue is, and the device still has work. The executor serves the open albums by
the order they opened (each album's place), not first come first served: a user watching
an overnight run wants finished albums early and in order, so the earlier album's retry
takes and its tail go before the next album's remaining batches, and the next album gets
what the device and the workers would otherwise leave idle.

One album's failure (a unit that keeps failing, a prompt source that gives nothing, its
lock held by another build) stops that album only: nothing new of it starts, its units in
flight finish and are recorded, its manifest is folded, and the others go on. A Ctrl-C
stops every album alike (interrupt.py). A re-run of the same catalogue resumes each album
where it stopped, as a single build does.

Both executors serve several albums at once (`local`: the device thread and the worker
pool; `ray`: the render actors and the cluster's CPUs). Only a catalogue whose albums ask
for different executors is built one album after another, each on its own executor,
each failure still stopping only its own album.
"""
from __future__ import annotations

import contextlib
import itertools
import logging
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from ..errors import AlbumgenError
from ..stage import Context, Stage
from . import interrupt
from .runner import album_session, build, make_executor, select_stages
from .scheduler import BuildReport, Frontier, StageReport

log = logging.getLogger("albumgen")

OPEN_ALBUMS = 2  # open at once: the one finishing on the CPU, the next one feeding the device
MOST_OPEN = 4  # open at once when the open albums' render is done and the device would wait


@dataclass
class AlbumResult:
    """How one album of a catalogue ended: its report, or the error that stopped it."""

    pipeline: Path
    ctx: Context
    report: BuildReport
    error: BaseException | None = None


@dataclass
class _Open:
    result: AlbumResult
    frontier: Frontier
    session: contextlib.ExitStack


class _ForAlbum:
    """The shared executor as one album's frontier sees it: its units go with its Context
    and its place (the order the albums opened in: the lower, the sooner served)."""

    def __init__(self, executor, ctx: Context, place: int):
        self.executor, self.ctx, self.place = executor, ctx, place

    def submit(self, stage: Stage, units) -> None:
        self.executor.submit(stage, units, self.ctx, place=self.place)


def build_catalogue(albums: list[tuple[Path, Context]], until: str | None = None, force: tuple[str, ...] = (),
                    executor: str | None = None, on_done=None) -> list[AlbumResult]:
    """Build every album; return how each ended, in the order given. `on_done(result)` is
    called as each album ends (the CLI says so at once, not at the end of a long run).
    Raises only what stops every album: a Ctrl-C (interrupt.Interrupted)."""
    kinds = {executor or ctx.config.executor.kind for _, ctx in albums}
    if len(kinds) == 1:
        return _one_frontier(albums, until, force, on_done, kinds.pop())
    return _one_after_another(albums, until, force, executor, on_done)


def _one_after_another(albums, until, force, executor, on_done) -> list[AlbumResult]:
    results = []
    for pipeline, ctx in albums:
        result = AlbumResult(pipeline, ctx, BuildReport(ctx.album_dir))
        try:
            result.report = build(ctx, until, force, executor=executor)
        except AlbumgenError as e:
            if interrupt.requested():
                raise
            result.error = e
            ctx.manifest.release()
        results.append(result)
        if on_done:
            on_done(result)
    return results


def _one_frontier(albums, until, force, on_done, kind: str) -> list[AlbumResult]:
    stages = select_stages(until, force)
    waiting = deque(albums)
    opened: dict[int, _Open] = {}  # id(ctx) -> the open album
    results: list[AlbumResult] = []
    # One executor for all: the first album's executor settings (workers, Ray address, actors) make it.
    shared = make_executor(albums[0][1], kind)
    places = itertools.count()

    def close(album: _Open, error: BaseException | None = None) -> None:
        del opened[id(album.result.ctx)]
        ctx = album.result.ctx
        if error is None:
            try:
                album.session.close()  # fold, build_done, lock released
            except Exception as e:  # a fold the disk refused: this album's failure
                album.result.error = e
        else:
            album.result.error = error
            album.session.__exit__(type(error), error, error.__traceback__)
            ctx.manifest.release()
        if album.result.error is not None:
            ctx.event("catalogue_album_failed", error=str(album.result.error)[:500])
        results.append(album.result)
        if on_done:
            on_done(album.result)

    def fail(album: _Open, error: BaseException) -> None:
        """Stop this album: nothing new of it starts; closed once its units in flight are back."""
        if album.result.error is None:
            album.result.error = error
            log.warning("Warning: %s stopped: %s; the other albums go on", album.result.ctx.album_dir.name, error)

    def room() -> bool:
        """Another album may open: fewer than OPEN_ALBUMS are, or fewer than MOST_OPEN and
        none of them has device work ahead."""
        if len(opened) < OPEN_ALBUMS:
            return True
        return len(opened) < MOST_OPEN and not interrupt.requested() and not any(
            a.frontier.feeds_device() for a in opened.values() if a.result.error is None)

    try:
        with interrupt.in_flight(getattr(shared, "describe", lambda: None)):
            while waiting or opened:
                while waiting and room():
                    pipeline, ctx = waiting.popleft()
                    result = AlbumResult(pipeline, ctx, BuildReport(ctx.album_dir))
                    session = contextlib.ExitStack()
                    try:
                        session.enter_context(album_session(ctx, stages, result.report, notices=False))
                    except Exception as e:  # its lock is held, its folder cannot be written...
                        result.error = e
                        ctx.manifest.release()
                        results.append(result)
                        if on_done:
                            on_done(result)
                        continue
                    for s in stages:
                        result.report.stages.setdefault(s.name, StageReport())
                    frontier = Frontier(ctx, stages, _ForAlbum(shared, ctx, next(places)), result.report,
                                        set(force))
                    opened[id(ctx)] = _Open(result, frontier, session)
                if stop := interrupt.requested():
                    if not shared.busy():
                        raise interrupt.Interrupted(stop)
                else:
                    for album in list(opened.values()):
                        if album.result.error is None:
                            try:
                                if album.frontier.submit_ready():
                                    close(album)
                                    continue
                            except Exception as e:
                                fail(album, e)
                        if album.result.error is not None and not shared.busy_for(album.result.ctx):
                            close(album, album.result.error)
                if not any(a.frontier.in_flight for a in opened.values()):
                    continue  # every open album closed or failed just now: open the next ones
                if waiting and room():
                    continue  # the device would wait on the open albums' CPU tails: open the next one
                finished, failures = shared.wait_albums()
                for ctx, stage, done in finished:
                    album = opened[id(ctx)]
                    try:  # a failed album's units in flight are recorded too: nothing finished is lost
                        album.frontier.record(stage, done)
                    except Exception as e:
                        fail(album, e)
                for failed in failures:
                    if isinstance(failed.error, interrupt.Interrupted | KeyboardInterrupt):
                        raise failed.error
                    if interrupt.requested() and isinstance(failed.error, AlbumgenError):
                        continue  # an echo of the Ctrl-C (ffmpeg stopped by it too): not the album's fault
                    fail(opened[id(failed.ctx)], failed.error)
    finally:
        shared.close()
        for album in list(opened.values()):  # a Ctrl-C or a bug: every open album folded as failed
            with contextlib.suppress(Exception):
                album.session.__exit__(interrupt.Interrupted, interrupt.Interrupted("stopped"), None)
            album.result.ctx.manifest.release()
    order = {id(ctx): n for n, (_, ctx) in enumerate(albums)}
    return sorted(results, key=lambda r: order[id(r.ctx)])
