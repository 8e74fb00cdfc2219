"""The status table: one row per track, one column per stage that reports on tracks, from
the manifest alone. Titles come from the Tracklist artifact; the stages' own cells from
their `status()` hook, so this module names no stage."""
from __future__ import annotations

from ..inputs import human_size
from ..stage import Context, NotReady, Stage
from . import runner
from .store import trash


def album_status(ctx: Context) -> dict:
    stages = runner.select_stages(None)
    shown = [s for s in stages if type(s).status is not Stage.status]
    cells = {s.name: s.status(ctx) for s in shown}
    tracklist = ctx.artifacts.tracklist()
    rows = [[t.id, t.title] + [cells[s.name].get(t.id, "-") for s in shown]
            for t in (tracklist.tracks if tracklist else [])]
    summary = []
    for s in stages:
        try:
            units = runner.plan_stage(s, ctx)
        except NotReady as e:
            summary.append(f"{s.name}: waits on {e.needs}")
            continue
        done = sum(ctx.manifest.is_done(u.key, s.name, u.id) for u in units)
        waiting = len(getattr(units, "waiting", ()))
        summary.append(f"{s.name}: {done}/{len(units)} units done" + (f", {waiting} tracks waiting" if waiting else ""))
    files, size = trash.usage(ctx.album_dir)
    if files:
        summary.append(f"trash: {files} files ({human_size(size)}) a config change left behind; "
                       "`albumgen gc` deletes them")
    ctx.manifest.save_mtimes()  # outputs copied with new mtimes are hashed once, not by every status
    album = tracklist.album_title if tracklist else (ctx.config.album.title or ctx.album_dir.name)
    return {"album": album, "columns": ["track", "title"] + [s.name for s in shown], "rows": rows,
            "summary": summary}
