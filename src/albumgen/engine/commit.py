"""A stage's units against the record store: plan them with their keys, commit what a
unit made, take back what the disk proves (recovery), and drop what the pipeline no longer
has. Below the scheduler and the runner, which both call it; it knows no executor."""
from __future__ import annotations

import logging
from pathlib import Path

from ..errors import OutputError, StageError
from ..stage import Context, Stage
from .store import recovery

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
        remove_unclaimed(ctx, set(old.outputs) - set(rec.outputs))


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
    """Commit the pending units whose outputs are intact on disk; returns the rest."""
    if not pending or not stage.sidecars:
        return pending
    found = recovery.recover(stage, ctx, pending)
    for done in found:
        commit(stage, ctx, done)
        ctx.manifest.event("unit_recovered", stage=stage.name, unit=done.unit.id)
    if found:
        log.warning("%s: %d units recovered from their files on disk (their records were missing)",
                    stage.name, len(found))
    ids = {d.unit.id for d in found}
    return [u for u in pending if u.id not in ids]


def prune_stale(stage: Stage, ctx: Context, live_ids: set[str]) -> None:
    """Drop records (and their files) of units the current config no longer has, e.g. the
    tracks past a lowered album.tracks, so the album folder matches the pipeline."""
    manifest = ctx.manifest
    stale = [r for r in manifest.records(stage.name) if r.unit not in live_ids]
    if not stale:
        return
    for rec in stale:
        manifest.drop(stage.name, rec.unit)
        remove_unclaimed(ctx, set(rec.outputs))
        manifest.event("unit_pruned", stage=stage.name, unit=rec.unit)


def remove_unclaimed(ctx: Context, rels: set[str]) -> None:
    claimed = {rel for r in ctx.manifest.state.records.values() for rel in r.outputs}
    for rel in rels - claimed:
        (ctx.album_dir / rel).unlink(missing_ok=True)
