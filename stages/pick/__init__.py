"""pick: score every take of a track and keep the best."""
from __future__ import annotations

import time
from typing import Iterator

from albumgen import atomic
from albumgen.audio.io import read_audio
from albumgen.stage import Context, Done, NotReady, Stage, Unit

from .config import PickConfig
from .features import features, rejects, score


class PickStage(Stage):
    name = "pick"
    version = "1"
    Config = PickConfig
    needs = ("take",)
    makes = ("pick",)

    def plan(self, ctx: Context) -> list[Unit]:
        tracklist = ctx.manifest.record("prompts", "tracklist")
        if tracklist is None:
            raise NotReady("prompts")
        by_track: dict[str, dict[str, str]] = {}
        for rec in ctx.manifest.records("render"):
            tid, take = rec.unit.split("/")
            wav = next(rel for rel in rec.outputs if rel.endswith(".wav"))
            by_track.setdefault(tid, {})[wav] = rec.outputs[wav].sha256
        cfg: PickConfig = ctx.stage_config("pick")
        units = []
        for track in tracklist.data["tracks"]:
            takes = by_track.get(track["id"])
            if not takes:
                raise NotReady("render")
            units.append(Unit(id=track["id"], config=cfg.model_dump(), inputs=takes, payload=track))
        return units

    def run(self, ctx: Context, units: list[Unit]) -> Iterator[Done]:
        cfg: PickConfig = ctx.stage_config("pick")
        for unit in units:
            t0 = time.monotonic()
            scored = []
            for rel in sorted(unit.inputs, key=_take_no):
                audio, sr = read_audio(ctx.path(rel))
                f = features(audio, sr)
                reasons = rejects(f, cfg)
                scored.append({"take": _take_no(rel), "wav": rel, "features": f, "rejects": reasons,
                               "score": score(f)})
            ok = [s for s in scored if not s["rejects"]]
            best = max(ok or scored, key=lambda s: (s["score"], -s["take"]))
            result = {"track": unit.id, "choice": best["take"], "wav": best["wav"], "all_rejected": not ok,
                      "takes": scored}
            path = ctx.path(f"manifest/picks/{unit.id}.json")
            atomic.write_json(path, result)
            ctx.log.info("Picked take %d of %s%s", best["take"], unit.id, " (all takes failed checks)" if not ok else "")
            yield Done(unit, [path], data={k: result[k] for k in ("choice", "wav", "all_rejected")},
                       seconds=time.monotonic() - t0)

    def status(self, ctx: Context) -> dict[str, str]:
        return {r.unit: f"take {r.data['choice']}" + (" (all failed)" if r.data.get("all_rejected") else "")
                for r in ctx.manifest.records("pick")}


def _take_no(rel: str) -> int:
    return int(rel.rsplit("take-", 1)[1].split(".")[0])
