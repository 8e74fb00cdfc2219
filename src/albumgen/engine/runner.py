"""The build session: open a pipeline's album, check it before writing anything, lock it,
run the stages' units through the frontier on the chosen executor, and report; also the
dry run and repair, which plan the same units without running them."""
from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path

from .. import album_year, console, registry
from ..config import PipelineBase, load_config
from ..errors import ConfigError, OutputError
from ..naming import slugify
from ..stage import Context, NotReady, Stage
from .commit import plan_stage, recover_all, sweep_unclaimed
from .scheduler import BuildReport, StageReport, run_frontier
from .store import atomic, trash
from .store.hashing import sha256_json
from .store.manifest import Manifest

log = logging.getLogger("albumgen")



def album_dir_for(config: PipelineBase, base_dir: Path, pipeline_name: str) -> Path:
    slug = config.album.slug or (slugify(config.album.title) if config.album.title else slugify(Path(pipeline_name).stem))
    return (base_dir / config.output_dir / slug).resolve()


def make_context(config: PipelineBase, base_dir: Path, pipeline_name: str, progress: bool = True) -> Context:
    album_dir = album_dir_for(config, base_dir, pipeline_name)
    return Context(config=config, album_dir=album_dir, base_dir=base_dir, manifest=Manifest(album_dir),
                   log=log, progress=progress)


def open_pipeline(path: Path, progress: bool = True) -> Context:
    """Load and validate a pipeline file and open its album: what every command starts with."""
    config, base_dir = load_config(path)
    return make_context(config, base_dir, Path(path).name, progress=progress)


def open_pipelines(paths: list[Path], progress: bool = True) -> list[Context]:
    """Open every album of a catalogue. Each album's records are read (a damaged or newer
    manifest is an error now) and let go of at once: a thousand albums open at a time
    would otherwise hold a thousand albums' records until their checks."""
    ctxs = []
    for path in paths:
        ctx = open_pipeline(path, progress=progress)
        if len(paths) > 1:
            ctx.manifest.release()
        ctxs.append(ctx)
    return ctxs


def select_stages(until: str | None, force: tuple[str, ...] = ()) -> list[Stage]:
    names = registry.stage_names()
    for name in ([until] if until else []) + list(force):
        if name not in names:
            raise ConfigError(f"unknown stage {name!r}", f"use one of: {', '.join(names)}")
    wanted = registry.upstream(until) if until else names
    return [cls() for cls in registry.stage_classes() if cls.name in wanted]



def dry_run(ctx: Context, until: str | None = None, force: tuple[str, ...] = ()) -> BuildReport:
    """What a build would do now, without writing anything. Stages whose inputs do not
    exist yet are reported as waiting: their units are only known once upstream ran."""
    stages = select_stages(until, force)
    check_executor(ctx)
    _preflight(stages, ctx)  # every check a build makes before it writes: a dry run that passes, builds
    report = BuildReport(ctx.album_dir)
    for stage in stages:
        report.notes += stage.describe(ctx)
        rep = report.stages.setdefault(stage.name, StageReport())
        try:
            units = plan_stage(stage, ctx)
        except NotReady as e:
            rep.waiting_on = e.needs
            continue
        rep.planned = len(units)
        rep.waiting = len(getattr(units, "waiting", ()))
        rep.skipped = sum(stage.name not in force and ctx.manifest.is_done(u.key, stage.name, u.id) for u in units)
        rep.ran = rep.planned - rep.skipped
    return report


def _preflight(stages: list[Stage], ctx: Context) -> None:
    """Plan every stage that can be planned before writing anything: a bad input (a missing
    prompts file, a cover that is not there) stops the build here, with the manifest
    exactly as it was. Only plans: which units are done is the stages' own run's business."""
    for stage in stages:
        stage.preflight(ctx)
        try:
            stage.plan(ctx)
        except NotReady:
            continue


def preflight_all(ctxs: list[Context], until: str | None = None, force: tuple[str, ...] = (),
                  executor: str | None = None) -> None:
    """Every album of a catalogue checked before any is touched: two pipelines writing one
    album folder, any album's bad input, or an executor that is not installed, stop the
    run with nothing written."""
    stages = select_stages(until, force)
    seen: dict[Path, Context] = {}
    for ctx in ctxs:
        check_executor(ctx, executor)
        if ctx.album_dir in seen:
            raise ConfigError(f"two pipelines write one album folder, {ctx.album_dir}",
                              "give each pipeline its own album.slug")
        seen[ctx.album_dir] = ctx
        _preflight(stages, ctx)
        ctx.manifest.release()  # read again when its build starts: one album's records held at a time


def build(ctx: Context, until: str | None = None, force: tuple[str, ...] = (),
          executor: str | None = None) -> BuildReport:
    """Run every selected stage's units as their inputs appear (scheduler.py), on the
    pipeline's executor; each finished unit is checked and recorded by this process."""
    stages = select_stages(until, force)
    check_executor(ctx, executor)  # a missing extra stops the build before anything is written
    report = BuildReport(ctx.album_dir)
    with album_session(ctx, stages, report):
        executor = make_executor(ctx, executor)
        try:
            run_frontier(ctx, stages, executor, report, set(force))
        finally:
            executor.close()
    return report


@contextlib.contextmanager
def album_session(ctx: Context, stages: list[Stage], report: BuildReport,
                  notices: bool = True) -> Iterator[None]:
    """One album's build around its units: the lock, the checks and repairs before any unit
    runs, and the fold and the closing events after (also after an error). A catalogue holds
    several open at once (catalogue.py); `notices`: remember shown notices in this album's
    folder (one album at a time: the remembering is process-wide)."""
    manifest = ctx.manifest
    manifest.ensure_writable()
    ctx.session = {}  # what the stages keep for the length of one build (render's progress)
    with manifest.lock(), (console.remember_notices(manifest.dir) if notices else contextlib.nullcontext()):
        _preflight(stages, ctx)  # the lock reads the records again: check with what is there now
        album_year.pin(ctx.config, ctx.album_dir)  # the first build fixes an unset album.year
        _warn_damage(ctx)
        trusted = _records_trusted(ctx)
        if ctx.manifest.damage or not ctx.manifest.state.records:  # lost records: bring back all the files prove
            recover_all(ctx, stages)
        if swept := atomic.sweep_temporaries(ctx.album_dir):  # a killed build's half-written files
            manifest.event("temporaries_removed", files=[p.relative_to(ctx.album_dir).as_posix() for p in swept])
        if trusted:  # every stage's: the records of all of them say what is claimed
            sweep_unclaimed(ctx, select_stages(None))
        config = ctx.config.model_dump(mode="json")
        manifest.change_note = trash.config_change(manifest.dir, config)  # said by each trash note
        manifest.set_config_hash(sha256_json(config))
        manifest.event("build_start", stages=[s.name for s in stages])
        started = time.monotonic()
        failed = True
        try:
            yield
            failed = False
        finally:
            _fold(manifest, failed)
        manifest.event("build_done", seconds=round(time.monotonic() - started, 3), units_ran=report.ran)
    manifest.release()  # a catalogue's next album does not keep this one's records in memory


def _fold(manifest: Manifest, failed: bool) -> None:
    """Fold what was committed into manifest.json, also after an error. A fold the full disk
    refuses must not hide the build's own error: the journal keeps every record meanwhile."""
    try:
        manifest.compact()
    except OutputError:
        if not failed:
            raise
        log.debug("the fold after a failed build was refused too; the journal keeps the records", exc_info=True)


EXECUTORS = ("local", "ray")


def check_executor(ctx: Context, kind: str | None = None) -> None:
    """The executor asked for exists and can be imported here (ray is an extra)."""
    kind = kind or ctx.config.executor.kind
    if kind not in EXECUTORS:
        raise ConfigError(f"executor.kind: unknown executor {kind!r}", f"use one of: {', '.join(EXECUTORS)}")
    if kind == "ray":
        from .executors.ray import import_ray  # ray is an optional extra: imported only when chosen
        from .executors.ray_head import check_reachable

        import_ray()
        check_reachable(ctx.config.executor.address)


def make_executor(ctx: Context, kind: str | None = None):
    """The executor the pipeline (or --executor) asks for."""
    cfg = ctx.config.executor
    kind = kind or cfg.kind
    check_executor(ctx, kind)
    if kind == "ray":  # imported only when chosen: ray is an optional extra
        from .executors.ray import RayExecutor

        return RayExecutor(ctx, cfg.address, None if cfg.actors == "auto" else cfg.actors)
    from .executors.local import LocalExecutor

    return LocalExecutor(ctx, None if cfg.workers == "auto" else cfg.workers)


def _warn_damage(ctx: Context) -> None:
    for what in ctx.manifest.damage:
        log.warning("Warning: %s; rebuilding its records from the files on disk", what)
        ctx.manifest.event("manifest_damaged", what=what)
    for what in ctx.manifest.skipped:
        log.warning("Warning: %s; skipped, and kept in journal.skipped.jsonl", what)
        ctx.manifest.event("journal_line_skipped", what=what)


def _records_trusted(ctx: Context) -> bool:
    """The record store says what the album's files are: read whole, nothing skipped, not
    empty. Otherwise files no record claims are what lost records held, not leftovers."""
    m = ctx.manifest
    return not m.damage and not m.skipped and bool(m.state.records)


def repair(ctx: Context) -> dict[str, int]:
    """Rebuild every record the files on disk prove, without running anything. Returns units
    per stage."""
    manifest = ctx.manifest
    manifest.ensure_writable()
    with manifest.lock():
        _warn_damage(ctx)
        trusted = _records_trusted(ctx)
        stages = select_stages(None)
        recovered = recover_all(ctx, stages)
        if trusted:
            sweep_unclaimed(ctx, stages)
        manifest.compact()
    return recovered



