"""pick: score every take of a track and keep the best, or ask render for more.

Per track, one unit whose key covers every take's audio hash, the config, which learned
scorers are on this machine and the human override if any. Everything measured goes to
manifest/picks/<track>.json; the record carries what master and render read:
{choice, wav, score, all_rejected, manual, extra_takes, retry_rounds, wants_takes}.
"""
from __future__ import annotations

import time
from typing import Iterator

from albumgen.audio.io import read_audio
from albumgen.hashing import sha256_json
from albumgen.recovery import write_sidecar
from albumgen.stage import Context, Done, NotReady, Stage, Unit

from . import overrides
from .config import PickConfig
from .learned import LearnedScorers, availability
from .scoring import SCHEMA_VERSION, score_group


class PickStage(Stage):
    name = "pick"
    version = "3"  # 3: dull, dropout, stuck and hum checks (every pick is rescored)
    Config = PickConfig
    needs = ("take",)
    makes = ("pick",)
    # overrides.json has no recovery block, so the glob may match it: it is ignored.
    sidecars = ("manifest/picks/*.json",)

    def plan(self, ctx: Context) -> list[Unit]:
        tracklist = ctx.manifest.record("prompts", "tracklist")
        if tracklist is None:
            raise NotReady("prompts")
        by_track: dict[str, dict[str, str]] = {}
        joins: dict[str, dict[str, list[float]]] = {}  # where each take's windows meet
        for rec in ctx.manifest.records("render"):
            tid = rec.unit.split("/")[0]
            wav = next((rel for rel in rec.outputs if rel.endswith(".wav")), None)
            if wav:
                by_track.setdefault(tid, {})[wav] = rec.outputs[wav].sha256
                if rec.data.get("joins"):
                    joins.setdefault(tid, {})[wav] = list(rec.data["joins"])
        cfg: PickConfig = ctx.stage_config("pick")
        # Whether weights are here is part of the key: weights downloaded later rescore.
        config = {**cfg.model_dump(), "learned": {k: v is None for k, v in availability(cfg, ctx.base_dir).items()}}
        manual = overrides.load(ctx.album_dir)
        units = []
        for track in tracklist.data["tracks"]:
            takes = by_track.get(track["id"])
            if not takes:
                raise NotReady("render")
            inputs = dict(takes)
            if track["id"] in manual:
                inputs["override"] = sha256_json({"take": manual[track["id"]]})
            if track["id"] in joins:
                inputs["joins"] = sha256_json(joins[track["id"]])
            units.append(Unit(id=track["id"], config=config, inputs=inputs,
                              payload={"track": track, "manual": manual.get(track["id"]),
                                       "joins": joins.get(track["id"], {})}))
        return units

    def run(self, ctx: Context, units: list[Unit]) -> Iterator[Done]:
        cfg: PickConfig = ctx.stage_config("pick")
        learned = LearnedScorers(cfg, ctx.base_dir, ctx.log)
        for unit in units:
            t0 = time.monotonic()
            track = unit.payload["track"]
            wavs = sorted((rel for rel in unit.inputs if rel.endswith(".wav")), key=take_number)
            res = score_group([(rel, (lambda rel=rel: read_audio(ctx.path(rel)))) for rel in wavs], cfg,
                              track.get("prompt"), learned, unit.payload.get("joins"))
            takes = [{"take": take_number(t["name"]), "wav": t["name"], **{k: v for k, v in t.items() if k != "name"}}
                     for t in res.takes]
            data = self._decide(ctx, cfg, unit, takes, res.choice)
            result = {"schema_version": SCHEMA_VERSION, "track": unit.id, "prompt": track.get("prompt"),
                      **data, "skipped": res.skipped, "errors": res.errors, "weights": cfg.weights.model_dump(),
                      "hard_checks": cfg.hard_checks, "takes": takes}
            path = ctx.path(f"manifest/picks/{unit.id}.json")
            # A sidecar: a lost pick record (it holds the retry rounds) is rebuilt from it.
            write_sidecar(path, result, self.name, unit, [], ctx.album_dir, record_keys=list(data))
            yield Done(unit, [path], data=data, seconds=time.monotonic() - t0)

    def _decide(self, ctx: Context, cfg: PickConfig, unit: Unit, takes: list[dict], auto: int | None) -> dict:
        if auto is None:
            from albumgen.errors import StageError

            raise StageError(f"pick: no take of {unit.id} could be read", "rerun the build to render them again")
        prev = ctx.manifest.record("pick", unit.id)
        # Never give back takes already asked for: render would prune them, and their
        # records with them, and the next build would ask again.
        extra = int(prev.data.get("extra_takes", 0)) if prev else 0
        rounds = int(prev.data.get("retry_rounds", 0)) if prev else 0
        best = takes[auto]
        all_rejected = all(t["rejects"] for t in takes)
        # Render has exactly render.takes + extra_takes for the track by now (it prunes the
        # rest), so asking for this many more is what its next plan will make.
        rendered = sum(rel.endswith(".wav") for rel in unit.inputs)
        wants = rendered
        manual = unit.payload["manual"]
        chosen = next((t for t in takes if t["take"] == manual), None) if manual else None
        if manual and chosen is None:
            ctx.log.warning("Pick: manual take %d of %s does not exist (takes: %s); picking automatically",
                            manual, unit.id, ", ".join(str(t["take"]) for t in takes))
        if chosen is not None:
            best = chosen
            ctx.log.info("Pick: %s take %d (manual)", unit.id, best["take"])
        elif all_rejected and rounds < cfg.max_rounds and cfg.retry_takes > 0:
            extra += cfg.retry_takes
            rounds += 1
            wants = rendered + cfg.retry_takes
            ctx.log.info("Pick: every take of %s failed the hard checks; asking for %d more (round %d of %d)",
                         unit.id, cfg.retry_takes, rounds, cfg.max_rounds)
        elif all_rejected:
            ctx.log.warning("Pick: %s take %d kept although every take failed (%s)", unit.id, best["take"],
                            "; ".join(best["rejects"]))
        else:
            ctx.log.info("Pick: %s take %d (score %.2f)", unit.id, best["take"], best["score"])
        return {"choice": best["take"], "wav": best["wav"], "score": best["score"], "all_rejected": all_rejected,
                "manual": chosen is not None, "extra_takes": extra, "retry_rounds": rounds, "wants_takes": wants,
                "rejects": best["rejects"]}

    def wants_another_round(self, ctx: Context) -> bool:
        rendered: dict[str, int] = {}
        for rec in ctx.manifest.records("render"):
            tid = rec.unit.split("/")[0]
            rendered[tid] = rendered.get(tid, 0) + 1
        return any(r.data.get("wants_takes", 0) > rendered.get(r.unit, 0) for r in ctx.manifest.records("pick"))

    # The library behind `albumgen pick` and `albumgen score`, reached through the registry.
    @staticmethod
    def set_choice(ctx: Context, track: str, take: int | None) -> tuple[dict, int | None]:
        from .manual import set_choice

        return set_choice(ctx, track, take)

    @staticmethod
    def describe(ctx: Context, track: str) -> dict:
        from .manual import describe

        return describe(ctx, track)

    @staticmethod
    def score_files(paths: list, cfg: PickConfig | None = None, prompt: str | None = None, log=None) -> dict:
        from .scoring import score_files

        return score_files(paths, cfg, prompt, log)

    def status(self, ctx: Context) -> dict[str, str]:
        cells = {}
        for r in ctx.manifest.records("pick"):
            cell = f"take {r.data['choice']}"
            if r.data.get("manual"):
                cell += " (manual)"
            elif r.data.get("all_rejected"):
                cell += " (all rejected)"
            cells[r.unit] = cell
        return cells


def take_number(rel: str) -> int:
    return int(rel.rsplit("take-", 1)[1].split(".")[0])
