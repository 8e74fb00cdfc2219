"""render: MusicGen takes, several per track, each with its own seed and saved tokens."""
from __future__ import annotations

from typing import Iterator

from albumgen.hashing import derive_seed, sha256_file, sha256_text
from albumgen.stage import Context, Done, NotReady, Stage, Unit

from .config import RenderConfig, resolve_audio


class RenderStage(Stage):
    name = "render"
    version = "2"  # 2: per-take hash noise and the fast loop (other tokens than 1 for a seed)
    Config = RenderConfig
    needs = ("tracklist",)
    makes = ("take",)

    def plan(self, ctx: Context) -> list[Unit]:
        cfg: RenderConfig = ctx.stage_config("render")
        tracklist = ctx.manifest.record("prompts", "tracklist")
        if tracklist is None:
            raise NotReady("prompts")
        # The intro's contents, not its name: a re-recorded intro renders again.
        shared = {"intro": sha256_file(resolve_audio(ctx.base_dir, cfg.intro, "render.intro"))} if cfg.intro else {}
        units = []
        for track in tracklist.data["tracks"]:
            for n in range(1, takes_wanted(ctx, track["id"]) + 1):
                seed = derive_seed(ctx.config.album.seed, track["id"], n)
                units.append(Unit(
                    id=f"{track['id']}/take-{n}",
                    config={**cfg.key_fields(), "seed": seed},
                    # Only this track's prompt: editing one prompt re-renders that track only.
                    inputs={"prompt": sha256_text(track["prompt"]), **shared},
                    payload={"track": track["id"], "take": n, "seed": seed, "prompt": track["prompt"]},
                ))
        return units

    def run(self, ctx: Context, units: list[Unit]) -> Iterator[Done]:
        from .engine import render_units

        yield from render_units(ctx, units)

    def status(self, ctx: Context) -> dict[str, str]:
        counts: dict[str, int] = {}
        for rec in ctx.manifest.records("render"):
            tid = rec.unit.split("/")[0]
            counts[tid] = counts.get(tid, 0) + 1
        return {tid: f"{n}/{takes_wanted(ctx, tid)}" for tid, n in counts.items()}


def takes_wanted(ctx: Context, track_id: str) -> int:
    """render.takes plus the takes pick's retry rounds asked for this track."""
    pick = ctx.manifest.record("pick", track_id)
    return ctx.stage_config("render").takes + (int(pick.data.get("extra_takes", 0)) if pick else 0)
