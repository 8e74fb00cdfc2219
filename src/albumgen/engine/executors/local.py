"""Where units run. The frontier (scheduler.py) decides when; an executor runs them and
hands the finished units back to the driver, which alone writes the manifest.

`local` (the default, nothing to start): device units (render) in a thread of the driver's
process, so the loaded model stays loaded and the GPU runs while the driver commits; CPU
units (pick, master) in a pool of worker processes sized to the cores; "driver" units
(prompts) in the driver itself. With `executor.workers: 0` every CPU unit runs in the
driver too (one process, for debugging).
"""
from __future__ import annotations

import logging
import os
import queue
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

from ...stage import Context, Done, Stage, Unit
from ..store.manifest import Manifest

log = logging.getLogger("albumgen")


def default_workers() -> int:
    # One core stays with the driver and the device thread (on a CPU box it renders there).
    return max(1, (os.cpu_count() or 2) - 1)


class LocalExecutor:
    def __init__(self, ctx: Context, workers: int | None = None):
        self.ctx = ctx
        self.workers = default_workers() if workers is None else workers
        self.results: queue.Queue = queue.Queue()
        self._device_jobs: queue.Queue = queue.Queue()
        self._device: threading.Thread | None = None
        self._pool: ProcessPoolExecutor | None = None
        self._stop = threading.Event()

    # -- submitting --------------------------------------------------------------------
    def submit(self, stage: Stage, units: list[Unit]) -> None:
        if stage.resources == "device":
            self._start_device()
            self._device_jobs.put((stage, units))
            if self.workers:  # warm the workers up (imports take seconds) while the device works
                self._start_pool()
        elif stage.resources == "driver" or self.workers == 0:
            self._run_here(stage, units)
        else:
            pool = self._start_pool()
            for unit in units:
                fut = pool.submit(run_in_worker, stage.name, self.ctx.config.model_dump(mode="json"),
                                  self.ctx.album_dir, self.ctx.base_dir, [unit], log.level)
                fut.add_done_callback(lambda f, stage=stage: self._collect(stage, f))

    def _run_here(self, stage: Stage, units: list[Unit]) -> None:
        try:
            for done in stage.run(self.ctx, units):
                self.results.put((stage, done))
        except BaseException as e:  # handed to wait(), which raises it in the driver
            self.results.put(e)

    def _collect(self, stage: Stage, fut: Future) -> None:
        try:
            dones, events = fut.result()
        except BaseException as e:
            self.results.put(e)
            return
        for name, fields in events:
            if name == LOG_LINE:  # said in the worker, shown here: above the progress, once per album
                log.log(fields["level"], "%s", fields["message"], extra={"notice": fields.get("notice")})
            else:
                self.ctx.manifest.event(name, **fields)
        for done in dones:
            self.results.put((stage, done))

    # -- the device thread -------------------------------------------------------------
    def _start_device(self) -> None:
        if self._device is None:
            # A daemon: on an error or Ctrl-C the driver exits without waiting for the batch.
            self._device = threading.Thread(target=self._device_loop, name="albumgen-device", daemon=True)
            self._device.start()

    def _device_loop(self) -> None:
        while not self._stop.is_set():
            job = self._device_jobs.get()
            if job is None:
                return
            stage, units = job
            try:
                for done in stage.run(self.ctx, units):
                    self.results.put((stage, done))
                    if self._stop.is_set():
                        return
            except BaseException as e:
                self.results.put(e)

    def _start_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            import multiprocessing

            # spawn, not fork: the driver holds torch and a device thread, which fork copies badly.
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_warm)
            for _ in range(self.workers):
                self._pool.submit(int)  # starts each worker now, not at the first CPU unit
        return self._pool

    # -- results -----------------------------------------------------------------------
    def wait(self) -> list[tuple[Stage, Done]]:
        """Block until at least one unit finished; return every finished one."""
        items = [self.results.get()]
        while True:
            try:
                items.append(self.results.get_nowait())
            except queue.Empty:
                break
        for item in items:
            if isinstance(item, BaseException):
                raise item
        return items

    def close(self) -> None:
        self._stop.set()
        if self._device is not None:
            self._device_jobs.put(None)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _warm() -> None:
    from ... import registry

    registry.warm()  # imports every stage module once per worker, and what their first unit needs


class WorkerManifest(Manifest):
    """The manifest as a worker sees it: read-only; events go back to the driver."""

    def __init__(self, album_dir: Path):
        super().__init__(album_dir)
        self.collected: list[tuple[str, dict]] = []

    def event(self, event: str, **fields: Any) -> None:
        self.collected.append((event, fields))

    def commit(self, *a: Any, **kw: Any):
        raise RuntimeError("workers never write the manifest; the driver records their units")

    drop = set_config_hash = compact = commit


def run_in_worker(stage_name: str, config: dict, album_dir: Path, base_dir: Path, units: list[Unit],
                  level: int) -> tuple[list[Done], list[tuple[str, dict]]]:
    """A CPU unit in a worker process: a fresh read of the manifest (what upstream units the
    driver recorded), the stage's own run, the finished units back to the driver."""
    from ... import registry
    from ...config import pipeline_model

    root = logging.getLogger("albumgen")
    manifest = WorkerManifest(album_dir)
    # Log lines go back to the driver with the units, which shows them: a worker writing to
    # the terminal itself would cut through the driver's live progress block.
    root.handlers[:] = [_Forward(manifest.collected)]
    root.setLevel(level)
    root.propagate = False
    ctx = Context(config=pipeline_model().model_validate(config), album_dir=album_dir, base_dir=base_dir,
                  manifest=manifest, log=root, progress=False)
    stage = registry.get(stage_name)()
    return list(stage.run(ctx, units)), manifest.collected


LOG_LINE = "log_line"  # an entry of a worker's collected events that is a log line, not an event


class _Forward(logging.Handler):
    def __init__(self, into: list):
        super().__init__()
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append((LOG_LINE, {"level": record.levelno, "message": record.getMessage(),
                                     "notice": getattr(record, "notice", None)}))
