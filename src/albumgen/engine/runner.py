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
from ..errors import AlbumgenError, ConfigError, OutputError
from ..naming import slugify, slugify_unicode
from ..stage import Context, NotReady, Stage
from .commit import plan_stage, recover_all, sweep_unclaimed
from .scheduler import BuildReport, StageReport, run_frontier
from .store import atomic, trash
from .store.hashing import sha256_json
from .store.manifest import Manifest

log = logging.getLogger("albumgen")



def album_slug(config: PipelineBase, pipeline_name: str) -> str:
    """album.slug, else the title's ASCII slug, else the pipeline file's name: "夜の街" and
    "東京" have no ASCII letter, and both slugging to one fallback folder would mix two albums
    in it. A file name with no ASCII letter either keeps its own letters ("夜の街.yaml")."""
    if config.album.slug:
        return config.album.slug
    stem = Path(pipeline_name).stem
    return (slugify(config.album.title or "", fallback="") or slugify(stem, fallback="")
            or slugify_unicode(stem))


def album_dir_for(config: PipelineBase, base_dir: Path, pipeline_name: str) -> Path:
    return (base_dir / config.output_dir / album_slug(config, pipeline_name)).resolve()


def _resolved(path: Path) -> Path:
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError):  # a symlink loop: load_config says so in its own words
        return Path(path).absolute()


class AlbumLog(logging.LoggerAdapter):
    """A catalogue album's log: its lines begin with the album's folder name. The caller's
    `extra` (a notice's key) is kept, where a plain LoggerAdapter would replace it."""

    def __init__(self, logger: logging.Logger, album: str):
        super().__init__(logger, {})
        self.prefix = album.replace("%", "%%") + ": "

    def process(self, msg, kwargs):
        return self.prefix + str(msg), kwargs


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
    would otherwise hold a thousand albums' records until their checks. One file named
    twice, or two pipelines whose albums land in one folder, stop the run here: a dry run
    says so as the build would."""
    named: dict[Path, int] = {}
    for i, path in enumerate(paths):
        if (j := named.setdefault(_resolved(path), i)) != i:
            first = paths[j]
            also = f" (also as {first})" if str(first) != str(path) else ""
            raise ConfigError(f"{path} is named twice{also}", "name each pipeline once")
    ctxs = []
    folders: dict[Path, int] = {}
    for i, path in enumerate(paths):
        ctx = open_pipeline(path, progress=progress)
        if len(paths) > 1:
            ctx.manifest.release()
            ctx.log = AlbumLog(log, ctx.album_dir.name)  # lines of many albums interleave: each names its own
        if (j := folders.setdefault(ctx.album_dir, i)) != i:
            raise ConfigError(f"two pipelines write one album folder, {ctx.album_dir}: {paths[j]} and {path}",
                              "give each pipeline its own album.slug")
        ctxs.append(ctx)
    return ctxs


def album_label(ctx: Context, pipeline: Path | str) -> str:
    """How a catalogue names one of its albums in an error line: `album-x (x.yaml)`."""
    return f"{ctx.album_dir.name} ({pipeline})"


@contextlib.contextmanager
def errors_named(ctx: Context, pipeline: Path | str | None) -> Iterator[None]:
    """An error of one album of many says which album, as `album-x (x.yaml): what (fix)`,
    with its own exit code. `pipeline` None: a build of one album, which needs no name."""
    try:
        yield
    except AlbumgenError as e:
        if pipeline is None:
            raise
        raise type(e)(f"{album_label(ctx, pipeline)}: {e.what}", e.fix) from e


def select_stages(until: str | None, force: tuple[str, ...] = ()) -> list[Stage]:
    names = registry.stage_names()
    for name in ([until] if until else []) + list(force):
        if name not in names:
            raise ConfigError(f"unknown stage {name!r}", f"use one of: {', '.join(names)}")
    wanted = registry.upstream(until) if until else names
    return [cls() for cls in registry.stage_classes() if cls.name in wanted]



def dry_run(ctx: Context, until: str | None = None, force: tuple[str, ...] = ()) -> BuildReport:
    """What a build would do now, without writing anything. Stages whose inputs do not
    exist yet are reported as waiting: their units are only known once upstream ran. A
    stage's pending units that a stage can preview (prompts from a file) are planned on
    downstream as if they ran; a track whose upstream units would run otherwise (a forced
    render, a take to render again) waits on them, as it does in the build."""
    stages = select_stages(until, force)
    check_executor(ctx)
    _preflight(stages, ctx)  # every check a build makes before it writes: a dry run that passes, builds
    report = BuildReport(ctx.album_dir)
    producers = registry.producers()
    changing: dict[str, set[str | None]] = {}  # stage -> tracks whose units would run unpreviewed (None: all)
    try:
        for stage in stages:
            rep = report.stages.setdefault(stage.name, StageReport())
            upstream = {producers[a.kind] for a in stage.needs} & changing.keys()
            moved = set().union(*(changing[name] for name in upstream))
            try:
                if None in moved:
                    raise NotReady(next(name for name in upstream if None in changing[name]))
                units = plan_stage(stage, ctx)
            except NotReady as e:
                rep.waiting_on = e.needs
                changing[stage.name] = {None}
                report.notes += stage.describe(ctx)
                continue
            # A track's units wait on its upstream units that would run (an album-wide one on all).
            held = [u for u in units if moved and (u.group is None or u.group in moved)]
            ready = [u for u in units if not (moved and (u.group is None or u.group in moved))]
            waits = {u.group for u in held} | set(getattr(units, "waiting", ()))
            pending = [u for u in ready if stage.name in force or not ctx.manifest.is_done(u.key, stage.name, u.id)]
            rep.planned, rep.waiting = len(ready), len(waits - {None})
            rep.ran, rep.skipped = len(pending), len(ready) - len(pending)
            changing[stage.name] = waits | _unpreviewed(stage, ctx, pending)
            report.notes += stage.describe(ctx, rep.ran if not waits else None)
    finally:
        ctx.previews.clear()
    return report


def _unpreviewed(stage: Stage, ctx: Context, pending: list) -> set[str | None]:
    """Preview the pending units into ctx.previews; the tracks of those it cannot preview."""
    preview = stage.preview(ctx, pending) if pending else {}
    if preview is None:
        return {u.group for u in pending}
    ctx.previews.update({f"{stage.name}/{uid}": data for uid, data in preview.items()})
    return set()


def _preflight(stages: list[Stage], ctx: Context) -> None:
    """Plan every stage that can be planned before writing anything: a bad input (a missing
    prompts file, a cover that is not there) stops the build here, with the manifest
    exactly as it was. A stage's pending units it can preview (prompts from a file) are
    planned on downstream: a melody column added to the prompts file is checked against the
    model now. Which units are done is otherwise the stages' own run's business."""
    ctx.manifest.check_writable()  # an output_dir under /sys or below a file: said now, not after the checks
    check_album_folder(ctx)
    try:
        for stage in stages:
            stage.preflight(ctx)
            try:
                units = plan_stage(stage, ctx)
            except NotReady:
                continue
            # Later checks read what it would make. Every unit, done or not: a preview of a done
            # unit is its record's data again, and asking which are done would hash moved files.
            if type(stage).preview is not Stage.preview:
                _unpreviewed(stage, ctx, units)
    finally:
        ctx.previews.clear()  # a build's units read the records, never a preview


def check_album_folder(ctx: Context) -> None:
    """A folder named after the title holds that title's album, not another's: "Café" and
    "Cafe" both make `cafe`, and building one into the other's folder would mix two albums
    (and trash the first one's takes). The last build's config says whose album it is."""
    album = ctx.config.album
    if album.slug or not album.title or not slugify(album.title, fallback=""):
        return  # a folder the user named, or named after the file: a retitled album stays in it
    last = trash.last_config(ctx.manifest.dir)
    before = last.get("album", {}).get("title") if isinstance(last, dict) and isinstance(last.get("album"), dict) \
        else None
    if isinstance(before, str) and before != album.title:
        slug = ctx.album_dir.name
        raise ConfigError(f"{ctx.album_dir} holds the album {before!r}, not {album.title!r}: both titles make "
                          f"the folder name {slug!r}",
                          f"set album.slug to a folder of its own; or, if this is {before!r} retitled, "
                          f"set album.slug: {slug} to keep building it there")


def preflight_all(ctxs: list[Context], until: str | None = None, force: tuple[str, ...] = (),
                  executor: str | None = None, pipelines: list[Path] | None = None) -> None:
    """Every album of a catalogue checked before any is touched: any album's bad input, or an
    executor that is not installed, stop the run with nothing written (two pipelines writing
    one album folder stopped it at `open_pipelines`). `pipelines`: the files the albums came
    from, to name the album an error is about."""
    stages = select_stages(until, force)
    named = pipelines if pipelines is not None and len(ctxs) > 1 else [None] * len(ctxs)
    for ctx, pipeline in zip(ctxs, named):
        with errors_named(ctx, pipeline):
            check_executor(ctx, executor)
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



