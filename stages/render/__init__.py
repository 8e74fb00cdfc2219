"""render: MusicGen takes, several per track, each with its own seed and saved tokens."""
from __future__ import annotations

from typing import Iterator

from albumgen.hashing import derive_seed, sha256_text
from albumgen.stage import Context, Done, NotReady, Stage, Unit

from .config import RenderConfig


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
        units = []
        for track in tracklist.data["tracks"]:
            pick = ctx.manifest.record("pick", track["id"])
            extra = int(pick.data.get("extra_takes", 0)) if pick else 0  # pick's retry rounds ask for more
            for n in range(1, cfg.takes + extra + 1):
                seed = derive_seed(ctx.config.album.seed, track["id"], n)
                units.append(Unit(
                    id=f"{track['id']}/take-{n}",
                    config={**cfg.key_fields(), "seed": seed},
                    # Only this track's prompt: editing one prompt re-renders that track only.
                    inputs={"prompt": sha256_text(track["prompt"])},
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
        cfg = ctx.stage_config("render")
        out = {}
        for tid, n in counts.items():
            pick = ctx.manifest.record("pick", tid)
            extra = int(pick.data.get("extra_takes", 0)) if pick else 0  # retry rounds' takes count too
            out[tid] = f"{n}/{cfg.takes + extra}"
        return out
