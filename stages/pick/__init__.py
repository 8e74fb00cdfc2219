"""pick: score every take of a track and keep the best, or ask render for more.

Per track, one unit whose key covers every take's audio hash, the config, which learned
scorers are on this machine and the human override if any. Everything measured goes to
manifest/picks/<track>.json; the record carries what master and render read:
{choice, wav, score, all_rejected, manual, extra_takes, retry_rounds, wants_takes}.
"""
from __future__ import annotations

import time
from collections.abc import Iterator

from albumgen.artifacts import Distinct, Pick, Take, TakeAudio, Tracklist
from albumgen.audio.io import read_audio
from albumgen.engine.store.hashing import sha256_json
from albumgen.engine.store.recovery import write_sidecar
from albumgen.sizes import counted
from albumgen.stage import Context, Done, NotReady, Plan, Stage, TrackReport, Unit

from . import overrides
from .config import PickConfig
from .learned import LearnedScorers, availability


class PickStage(Stage[PickConfig]):
    name = "pick"
    # 7: jump hears the beat (a tempogram's contrast) beside timbre and harmony, so a take
    # that continues as another piece of the same style is labelled and ranks lower
    # 8: hiss over the noisy label's limit lowers the score, not only labels the take
    version = "8"
    Config = PickConfig
    needs = (Tracklist, Take, TakeAudio)  # TakeAudio: a take's audio decoded again (render.decoder)
    makes = (Pick,)
    # Distinct: the sequence stage's word that two tracks' picks sound the same; the takes
    # it lists for a track are not chosen again.
    feedback = (Distinct,)
    folder = "picks"
    # overrides.json has no recovery block, so the glob may match it: it is ignored.
    sidecars = ("*.json",)

    def outputs(self, ctx: Context) -> tuple[str, ...]:
        return (f"manifest/{self.folder}/t[0-9]*.json",)  # one per track id; not overrides.json

    def plan(self, ctx: Context) -> list[Unit]:
        tracklist = ctx.artifacts.tracklist()
        if tracklist is None:
            raise NotReady("prompts")
        by_track: dict[str, list[Take]] = {}
        for take in ctx.artifacts.takes():
            if take.wav:
                by_track.setdefault(take.track, []).append(take)
        cfg = self.settings(ctx)
        # Whether weights are here is part of the key: weights downloaded later rescore.
        # Repaint settings enter the key only where a take could be repainted: other albums keep their picks.
        repaintable = {(t.track, t.take) for t in ctx.artifacts.takes() if t.latents}
        config = {**cfg.model_dump(exclude=set() if repaintable else {"repaint", "max_repaints"}),
                  "learned": {k: v is None for k, v in availability(cfg, ctx.base_dir).items()}}
        manual = overrides.load(ctx.album_dir)
        more = overrides.load_more(ctx.album_dir)
        distinct = ctx.artifacts.distinct()
        units, waiting = [], []
        for track in tracklist.tracks:
            takes = sorted(by_track.get(track.id, []), key=lambda t: t.take)
            if not takes:  # the scheduler also holds a track back while its takes render
                waiting.append(track.id)
                continue
            inputs = {t.id: t.wav_sha256 for t in takes}  # units carry take ids; the audio's hash
            if track.id in manual:
                inputs["override"] = sha256_json({"take": manual[track.id]})
            if more.get(track.id):
                inputs["more_takes"] = sha256_json({"more": more[track.id]})
            joins = {t.id: list(t.joins) for t in takes if t.joins}  # where each take's windows meet
            if joins:
                inputs["joins"] = sha256_json(joins)
            avoid = distinct.avoid.get(track.id, []) if distinct else []
            if avoid:
                inputs["avoid"] = sha256_json(avoid)
            units.append(Unit(id=track.id, config=config, inputs=inputs,
                              payload={"track": track.model_dump(), "takes": [t.model_dump() for t in takes],
                                       "manual": manual.get(track.id),
                                       "repaintable": sorted(n for t, n in repaintable if t == track.id),
                                       "more": more.get(track.id, 0), "joins": joins, "avoid": avoid},
                              group=track.id, reads=tuple(sorted(t.wav for t in takes))))
        if not units:
            raise NotReady("render")
        return Plan(units, waiting)

    def run(self, ctx: Context, units: list[Unit]) -> Iterator[Done]:
        from .scoring import SCHEMA_VERSION, score_group  # scipy's filters: not at every CLI start (--help)

        cfg = self.settings(ctx)
        learned = LearnedScorers(cfg, ctx.base_dir, ctx.log)
        for unit in units:
            t0 = time.monotonic()
            track = unit.payload["track"]
            by_id = {t.id: t for t in map(Take.model_validate, unit.payload["takes"])}
            res = score_group([(t.id, (lambda t=t: read_audio(ctx.path(t.wav)))) for t in by_id.values()], cfg,
                              track.get("prompt"), learned, unit.payload.get("joins"))
            takes = [{"take": by_id[t["name"]].take, "wav": by_id[t["name"]].wav,
                      **{k: v for k, v in t.items() if k != "name"}} for t in res.takes]
            data = self._decide(ctx, cfg, unit, takes, res.choice)
            if unit.payload.get("repaintable"):  # repaint instead of re-render (repaint.py)
                from .repaint import ask_repaints

                data = ask_repaints(cfg, ctx.artifacts.pick(unit.id), set(unit.payload["repaintable"]), takes, data,
                                    lambda rel: read_audio(ctx.path(rel)), ctx.log)
            result = {"schema_version": SCHEMA_VERSION, "track": unit.id, "prompt": track.get("prompt"),
                      **data, "skipped": res.skipped, "errors": res.errors, "weights": cfg.weights.model_dump(),
                      "hard_checks": cfg.hard_checks, "takes": takes}
            path = ctx.work_dir(self.name) / f"{unit.id}.json"
            # A sidecar: a lost pick record (it holds the retry rounds) is rebuilt from it.
            write_sidecar(path, result, self.name, unit, [], ctx.album_dir, record_keys=list(data))
            yield Done(unit, [path], data=data, seconds=time.monotonic() - t0)

    def _decide(self, ctx: Context, cfg: PickConfig, unit: Unit, takes: list[dict], auto: int | None) -> dict:
        if auto is None:
            from albumgen.errors import StageError

            raise StageError(f"pick: no take of {unit.id} could be read", "rerun the build to render them again")
        prev = ctx.artifacts.pick(unit.id)
        # Never give back takes already asked for: render would prune them, and their
        # records with them, and the next build would ask again.
        extra = prev.extra_takes if prev else 0
        rounds = prev.retry_rounds if prev else 0
        # Takes a person asked for (`albumgen pick --more`, the review page) since the last
        # pick: added once, like a retry round's, and never taken back.
        asked_before = prev.more_takes if prev else 0
        asked = max(0, unit.payload["more"] - asked_before)
        extra += asked
        best = takes[auto]
        all_rejected = all(t["rejects"] for t in takes)
        # Render has exactly render.takes + extra_takes for the track by now (it prunes the
        # rest), so asking for this many more is what its next plan will make.
        rendered = len(unit.payload["takes"])
        wants = rendered + asked
        manual = unit.payload["manual"]
        chosen = next((t for t in takes if t["take"] == manual), None) if manual else None
        if manual and chosen is None:
            ctx.log.warning("pick: manual take %d of %s does not exist (takes: %s); picking automatically",
                            manual, unit.id, ", ".join(str(t["take"]) for t in takes))
        avoid = unit.payload.get("avoid", [])
        if chosen is None and best["take"] in avoid:
            others = [i for i, t in enumerate(takes) if t["take"] not in avoid]
            if others:
                best = takes[min(others, key=lambda i: (len(takes[i]["rejects"]), -takes[i]["score"], i))]
                all_rejected = all(takes[i]["rejects"] for i in others)
                ctx.log.info("pick: %s take %d, not %s: another track sounds the same",
                             unit.id, best["take"], ", ".join(map(str, avoid)))
            elif rounds < cfg.max_rounds and cfg.retry_takes > 0:
                extra, rounds, wants = extra + cfg.retry_takes, rounds + 1, wants + cfg.retry_takes
                ctx.log.info("pick: rendering %s of %s (every take sounds like another track; "
                             "round %d of %d)", counted(cfg.retry_takes, "more take"), unit.id, rounds, cfg.max_rounds)
        if chosen is not None:
            best = chosen
            ctx.log.info("pick: %s take %d (manual)", unit.id, best["take"])
        elif all_rejected and rounds < cfg.max_rounds and cfg.retry_takes > 0:
            extra += cfg.retry_takes
            rounds += 1
            wants += cfg.retry_takes
            # Said once per round, with why: a retry multiplies the render's work.
            ctx.log.info("pick: rendering %s of %s (every take failed: %s; round %d of %d)",
                         counted(cfg.retry_takes, "more take"), unit.id, failed_checks(takes), rounds, cfg.max_rounds)
        elif all_rejected:
            ctx.log.warning("pick: %s take %d kept although every take failed (%s)", unit.id, best["take"],
                            "; ".join(best["rejects"]))
        else:
            ctx.log.info("pick: %s take %d (score %.2f)", unit.id, best["take"], best["score"])
        return {"choice": best["take"], "wav": best["wav"], "score": best["score"], "all_rejected": all_rejected,
                "manual": chosen is not None, "extra_takes": extra, "retry_rounds": rounds, "wants_takes": wants,
                "more_takes": max(asked_before, unit.payload["more"]), "rejects": best["rejects"], "avoid": avoid}

    @classmethod
    def commands(cls) -> list:
        from .cli import pick, score

        return [pick, score]

    @staticmethod
    def set_choice(ctx: Context, track: str, take: int | None) -> tuple[dict, int | None]:
        """A person's choice for a track (a take, or None: the picker decides), as `albumgen
        pick` makes it; the review page reaches it through the registry."""
        from .manual import set_choice

        return set_choice(ctx, track, take)

    @staticmethod
    def request_takes(ctx: Context, track: str, count: int) -> tuple[dict, int]:
        """`count` more takes of a track at the next build, as `albumgen pick --more` asks;
        the review page reaches it through the registry."""
        from .manual import request_takes

        return request_takes(ctx, track, count)

    def pending(self, ctx: Context) -> list[str]:
        """Choices made (`albumgen pick`, the review page) that no build has carried out yet."""
        lines = []
        more = overrides.load_more(ctx.album_dir)
        for tid, take in sorted(overrides.load(ctx.album_dir).items()):
            pick = ctx.artifacts.pick(tid)
            if pick is None or pick.choice != take or not pick.manual:
                lines.append(f"{tid}: take {take} chosen, masters on next build")
        for tid, asked in sorted(more.items()):
            pick = ctx.artifacts.pick(tid)
            waiting = asked - (pick.more_takes if pick else 0)
            if waiting > 0:
                lines.append(f"{tid}: {waiting} more take{'' if waiting == 1 else 's'} requested, "
                             "rendered on next build")
        return lines

    choices = {"keep": "take", "auto": "", "more": "count"}

    def report(self, ctx: Context, track: str) -> TrackReport:
        from .report import track_report

        return track_report(ctx, track)

    def choose(self, ctx: Context, track: str, action: str, value: int | None) -> str:
        from .report import choose

        return choose(ctx, track, action, value)

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


def failed_checks(takes: list[dict]) -> str:
    """The hard checks the takes failed, each with how many takes: "noise x4, silence x1"."""
    counts: dict[str, int] = {}
    for take in takes:
        for name in dict.fromkeys(r.split(":", 1)[0] for r in take["rejects"]):
            counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{name} x{n}" for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
