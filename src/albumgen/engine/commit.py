"""A stage's units against the record store: plan them with their keys, commit what a
unit made, take back what the disk proves (recovery), and drop what the pipeline no longer
has. Below the scheduler and the runner, which both call it; it knows no executor."""
from __future__ import annotations

import json
import logging
from pathlib import Path

from ..errors import OutputError, StageError
from ..sizes import counted
from ..stage import Context, Done, NotReady, Stage, Unit
from .store import recovery, trash
from .store.hashing import sha256_file, sha256_json

log = logging.getLogger("albumgen")


def plan_stage(stage: Stage, ctx: Context) -> list:
    units = stage.plan(ctx)
    for u in units:
        u.key = stage.key(u)
    return units


def commit(stage: Stage, ctx: Context, done) -> None:
    manifest = ctx.manifest
    check_outputs(stage, ctx, done)
    old = manifest.record(stage.name, done.unit.id)
    try:
        rec = manifest.commit(done.unit.key, stage.name, done.unit.id, done.outputs, done.data, done.seconds,
                              hashes=done.hashes)
    except OSError as e:
        raise OutputError(f"cannot record {stage.name}/{done.unit.id}: {e}", "check free disk space") from e
    if old is not None:  # e.g. a renamed track: its old MP3 must not linger in the album
        discard(ctx, old, set(old.outputs) - set(rec.outputs))


def check_outputs(stage: Stage, ctx: Context, done) -> None:
    """The worker checks the contract (luigi's complete() after run()): every output a unit
    reports is a file inside the album folder before anything is recorded."""
    root = ctx.album_dir.resolve()
    if not done.outputs:
        raise StageError(f"stage '{stage.name}' unit {done.unit.id} reported no outputs",
                         "a bug in the stage: every unit must write at least one file")
    for out in done.outputs:
        path = Path(out) if Path(out).is_absolute() else ctx.album_dir / out
        if not path.resolve().is_relative_to(root):
            raise StageError(f"stage '{stage.name}' unit {done.unit.id} reported {out}, outside the album folder {root}",
                             "a bug in the stage: outputs must be written under the album folder")
        if not path.is_file():
            raise StageError(f"stage '{stage.name}' unit {done.unit.id} reported {out}, which does not exist",
                             "a bug in the stage: write each output before yielding the unit")


def recover(stage: Stage, ctx: Context, pending: list) -> list:
    """Commit the pending units whose outputs are intact on disk (back from the trash, or
    proved by their sidecars); returns the rest."""
    pending = restore(stage, ctx, pending)
    if not pending or not stage.sidecars:
        return pending
    found = _on_disk(stage, ctx, pending)
    for done in found:
        commit(stage, ctx, done)
        ctx.manifest.event("unit_recovered", stage=stage.name, unit=done.unit.id)
    if found:
        log.warning("%s: %s recovered from their files on disk (their records were missing)",
                    stage.name, counted(len(found), "unit"))
    ids = {d.unit.id for d in found}
    return [u for u in pending if u.id not in ids]


def recover_all(ctx: Context, stages: list[Stage]) -> dict[str, int]:
    """Recovery to a fixed point: stage by stage, as far as recovered records let later
    stages plan, and again while a pass brings anything back (a recovered pick asks for the
    retry-round takes render could not plan before it). Returns units recovered per stage."""
    recovered = {stage.name: 0 for stage in stages}
    while True:
        found = 0
        for stage in stages:
            try:
                units = stage.plan_recovery(ctx)
            except NotReady:
                break
            for u in units:
                u.key = stage.key(u)
            pending = [u for u in units if not ctx.manifest.is_done(u.key, stage.name, u.id)]
            n = len(pending) - len(recover(stage, ctx, pending))
            recovered[stage.name] += n
            found += n
        if not found:
            return recovered


def restore(stage: Stage, ctx: Context, pending: list) -> list:
    """Units the config asks for again (a change undone) come back from the trash as they were."""
    if not pending or not trash.trash_dir(ctx.album_dir).is_dir():
        return pending
    rest = []
    for unit in pending:
        found = trash.restorable(ctx.album_dir, stage.name, unit.id, unit.key)
        if found is None:
            rest.append(unit)
            continue
        rec, where = found
        old = ctx.manifest.record(stage.name, unit.id)
        outputs = trash.restore(ctx.album_dir, rec, where)
        ctx.manifest.commit(rec.key, rec.stage, rec.unit, outputs, rec.data, rec.seconds,
                            hashes={rel: ref.sha256 for rel, ref in rec.outputs.items()})
        if old is not None:
            discard(ctx, old, set(old.outputs) - set(rec.outputs))
        ctx.manifest.event("unit_restored", stage=stage.name, unit=unit.id)
    if len(rest) < len(pending):
        log.info("Stage '%s': %s back from manifest/trash (the config asks for them again)",
                 stage.name, counted(len(pending) - len(rest), "unit"))
    return rest


def prune_stale(stage: Stage, ctx: Context, live_ids: set[str]) -> None:
    """Drop records of units the current config no longer has, e.g. the tracks past a
    lowered album.tracks, and move their files to the trash, so the album folder matches the
    pipeline and changing the config back costs nothing."""
    manifest = ctx.manifest
    stale = [r for r in manifest.records(stage.name) if r.unit not in live_ids]
    if not stale:
        return
    for rec in stale:
        manifest.drop(stage.name, rec.unit)
        discard(ctx, rec, set(rec.outputs))
        manifest.event("unit_pruned", stage=stage.name, unit=rec.unit)


def discard(ctx: Context, rec, rels: set[str]) -> None:
    """Move the outputs of a record no longer live that no live record claims to the trash."""
    claimed = {rel for r in ctx.manifest.state.records.values() for rel in r.outputs}
    moved = trash.discard(ctx.album_dir, rec, rels - claimed, ctx.manifest.change_note)
    if moved:
        ctx.manifest.event("unit_trashed", stage=rec.stage, unit=rec.unit, files=moved,
                           reason=ctx.manifest.change_note)


LEFT_BY_A_KILL = "no record claims it: a build was killed before recording it or trashing it"


def sweep_unclaimed(ctx: Context, stages: list[Stage]) -> list[str]:
    """Move to the trash the files that match a stage's outputs and that no record claims:
    what a kill left between a commit (or a prune) and the trashing of the files it replaced,
    or a unit's files put in place before a record the config then stopped asking for. Run
    under the album lock as an album opens, so the folder converges on what the records say.
    A unit its sidecar still proves is kept when the plan asks for it (recovery commits it)
    and otherwise trashed as its record would have been (back without a run when the config
    asks for it again); any other file goes to a note without a record. Returns what moved.

    Only where the records can be trusted to say what is claimed: not while the store is
    damaged or holds lines this version skipped (the caller checks), and not for a stage
    with no record at all, whose records were lost (repair rebuilds only what sidecars
    prove) or never made: its files are what its next run writes again."""
    album = ctx.album_dir
    records = ctx.manifest.state.records.values()
    claimed = {rel for r in records for rel in r.outputs}
    recorded = {r.stage for r in records}
    unclaimed: set[str] = set()
    for stage in stages:
        if stage.name not in recorded:
            continue
        for pattern in stage.outputs(ctx):
            for path in album.glob(pattern):
                rel = path.relative_to(album).as_posix()
                if rel not in claimed and not path.name.startswith(".") and not path.is_symlink() and path.is_file():
                    unclaimed.add(rel)  # hidden names are temporaries: atomic.sweep_temporaries' business
    moved: list[str] = []
    for stage in stages:
        planned: set[tuple[str, str]] | None = None
        for pattern in stage.sidecars:
            for path in sorted(ctx.work_dir(stage.name).glob(pattern)):
                if path.relative_to(album).as_posix() not in unclaimed:
                    continue
                proof = _prove(stage.name, album, path)
                if proof is None:
                    continue
                block, outputs, data = proof
                rels = {o.relative_to(album).as_posix() for o in outputs}
                if planned is None:
                    planned = _planned(stage, ctx)
                if (block["id"], block["key"]) not in planned:
                    rec = ctx.manifest.new_record(block["key"], stage.name, block["id"], outputs, data,
                                                  hashes=dict(block.get("files") or {}))
                    files = trash.discard(album, rec, rels & unclaimed, LEFT_BY_A_KILL)
                    ctx.manifest.event("unit_trashed", stage=stage.name, unit=block["id"], files=files,
                                       reason=LEFT_BY_A_KILL)
                    moved += files
                unclaimed -= rels
    if unclaimed:
        files = trash.discard_unclaimed(album, sorted(unclaimed), LEFT_BY_A_KILL)
        ctx.manifest.event("unclaimed_trashed", files=files, reason=LEFT_BY_A_KILL)
        moved += files
    if moved:
        log.warning("%d files no record claims moved to %s (%s)", len(moved),
                    trash.trash_dir(album).relative_to(album), LEFT_BY_A_KILL)
    return sorted(moved)


def _planned(stage: Stage, ctx: Context) -> set[tuple[str, str]]:
    """The (unit id, key) pairs the stage's plan asks for now; none while it cannot plan."""
    try:
        return {(u.id, u.key) for u in plan_stage(stage, ctx)}
    except NotReady:
        return set()


def _on_disk(stage: Stage, ctx: Context, pending: list[Unit]) -> list[Done]:
    """The pending units of `stage` whose finished outputs are intact on disk (store/recovery.py
    writes the sidecars that prove them)."""
    wanted = {(u.id, u.key): u for u in pending}
    found: dict[str, Done] = {}
    folder = ctx.work_dir(stage.name)
    for pattern in stage.sidecars:
        for path in sorted(folder.glob(pattern)):
            done = _check_sidecar(stage.name, ctx.album_dir, path, wanted)
            if done is not None:
                found.setdefault(done.unit.id, done)
    return list(found.values())



def _check_sidecar(stage: str, album_dir: Path, path: Path, wanted: dict) -> Done | None:
    proof = _prove(stage, album_dir, path)
    if proof is None:
        return None
    block, outputs, data = proof
    unit = wanted.get((block.get("id"), block.get("key")))
    if unit is None:
        return None  # another unit, or another config
    return Done(unit, outputs, data=data, hashes=dict(block.get("files") or {}))


def _prove(stage: str, album_dir: Path, path: Path) -> tuple[dict, list[Path], dict] | None:
    """What a sidecar of `stage` proves: its recovery block, the unit's outputs (the sidecar
    last) and the record's data; None unless every hash still matches."""
    if not path.is_file():  # a FIFO posing as a sidecar would block the read
        return None
    try:
        obj = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    block = obj.pop(recovery.BLOCK, None) if isinstance(obj, dict) else None
    if not isinstance(block, dict) or block.get("stage") != stage or block.get("body") != sha256_json(obj):
        return None  # not this stage's, or a body edited by hand
    if not isinstance(block.get("id"), str) or not isinstance(block.get("key"), str):
        return None
    root = album_dir.resolve()
    outputs = []
    for rel, digest in (block.get("files") or {}).items():
        out = (album_dir / rel).resolve()
        if not out.is_relative_to(root) or not out.is_file() or sha256_file(out) != digest:
            return None
        outputs.append(album_dir / rel)
    keys = block.get("record_keys")
    data = {k: obj[k] for k in keys if k in obj} if isinstance(keys, list) else obj
    return block, [*outputs, path], data
