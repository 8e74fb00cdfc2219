"""The status table: one row per track, one column per stage, from the manifest alone."""
from __future__ import annotations

from . import runner
from .stage import Context, NotReady


def album_status(ctx: Context) -> dict:
    stages = runner.select_stages(None)
    cells = {s.name: s.status(ctx) for s in stages}
    titles = cells.get("prompts", {})
    rows = []
    for tid, title in titles.items():
        rows.append([tid, title] + [cells[s.name].get(tid, "-") for s in stages if s.name != "prompts"])
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
    rec = ctx.manifest.record("prompts", "tracklist")
    album = rec.data["album_title"] if rec else (ctx.config.album.title or ctx.album_dir.name)
    return {"album": album, "columns": ["track", "title"] + [s.name for s in stages if s.name != "prompts"],
            "rows": rows, "summary": summary}
