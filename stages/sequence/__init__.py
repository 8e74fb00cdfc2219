"""sequence: what a person sequencing an album listens for, and the running order.

Units: one per track (the chosen take's tempo, beats, key, energy and fingerprint, from
albumgen.audio.music), "order" (album.order: as_listed keeps the tracklist's order,
flow orders for a smooth journey; order.py) and "distinct" (near-duplicate picks: the
weaker track of a pair is sent back to pick for another take, through the runner's rounds).
Master reads both: the beats to end each track on a phrase, the key and tempo for the TKEY/TBPM tags, the order for track numbers,
file names, the playlist and album.json. The analysis runs once per chosen take: a changed
album.order reorders without analysing again.
"""
from __future__ import annotations

import time
from collections.abc import Iterator

from albumgen.artifacts import Distinct, Music, Order, Pick, Take, Tracklist
from albumgen.audio.io import read_audio
from albumgen.audio.music import analyse, distance, initial_key_tag
from albumgen.engine.store import atomic
from albumgen.engine.store.hashing import sha256_json
from albumgen.stage import Context, Done, NotReady, Plan, Stage, Unit

from . import order as flow

# Fingerprint distance (albumgen.audio.music.distance) under which two tracks are the same
# music: the same clip measures 0.01-0.04, two melodies of one generator 0.4.
DUPLICATE_DISTANCE = 0.2


class SequenceStage(Stage):
    name = "sequence"
    version = "1"
    # No section of its own: the running order is an album-wide choice (album.order).
    Config = None
    needs = (Tracklist, Take, Pick)
    makes = (Music, Order, Distinct)

    @classmethod
    def warm(cls) -> None:
        # librosa's imports (scipy, numba, soundfile...) and the first call's lazy loads: ~4 s
        # on an idle core, 15 s on a loaded one, that each worker's first analysis would
        # otherwise pay after its track's pick.
        import numpy as np

        analyse(np.random.default_rng(0).standard_normal(22050).astype(np.float32) * 0.1, 22050)

    def outputs(self, ctx: Context) -> tuple[str, ...]:
        return (f"manifest/{self.folder}/*.json",)

    def plan(self, ctx: Context) -> list[Unit]:
        tracklist = ctx.artifacts.tracklist()
        if tracklist is None:
            raise NotReady("prompts")
        units, waiting = [], []
        for t in tracklist.tracks:
            pick = ctx.artifacts.pick(t.id)
            take = ctx.artifacts.take(t.id, pick.choice) if pick is not None else None
            if take is None or take.wav != pick.wav:
                waiting.append(t.id)  # not picked yet (or its take is being redone)
                continue
            # The asked duration: render.tail renders past it, and the ending is sought near it.
            unit = Unit(id=t.id, config={"asked_end": take.duration}, inputs={"take": take.wav_sha256},
                        payload={"wav": take.wav}, group=t.id, reads=(take.wav,))
            unit.key = self.key(unit)
            units.append(unit)
        if not units:
            raise NotReady("pick")
        if waiting:
            # A track is analysed as soon as it is picked, while later tracks still render;
            # distinct and the running order need every track.
            return Plan(units, waiting)
        mode = ctx.config.album.order
        listed = [{"id": t.id, "title": t.title} for t in tracklist.tracks]
        picks = {t.id: ctx.artifacts.pick(t.id) for t in tracklist.tracks}
        # Every pick field the check reads is in its key: a pick setting that changes a score
        # or rejects every take must check for duplicates again, not reuse the old result.
        read = [{"id": t["id"], "choice": picks[t["id"]].choice, "score": picks[t["id"]].score,
                 "failed": picks[t["id"]].all_rejected} for t in listed]
        units.append(Unit(id="distinct", config={"max_distance": DUPLICATE_DISTANCE},
                          inputs={"music": sha256_json([u.key for u in units]), "picks": sha256_json(read)},
                          payload={"tracks": read},
                          after=tuple(u.id for u in units)))  # reads the tracks' records
        units.append(Unit(id="order", config={"order": mode}, inputs={"music": sha256_json([u.key for u in units])},
                          payload={"tracks": listed}, after=tuple(u.id for u in units)))  # reads their records
        return units

    def run(self, ctx: Context, units: list[Unit]) -> Iterator[Done]:
        for unit in units:
            t0 = time.monotonic()
            make = {"order": self._order, "distinct": self._distinct}.get(unit.id, self._track)
            outputs, data = make(ctx, unit)
            yield Done(unit, outputs, data=data, seconds=time.monotonic() - t0)

    def _track(self, ctx: Context, unit: Unit):
        audio, sr = read_audio(ctx.path(unit.payload["wav"]))
        music = analyse(audio, sr)
        data = {**music.summary(), "asked_end": unit.config["asked_end"]}
        path = ctx.work_dir(self.name) / f"{unit.id}.json"
        atomic.write_json(path, data)
        ctx.log.info("sequence: %s is %s, %s", unit.id, music.key,
                     f"{music.bpm:.1f} bpm" if music.bpm else "no steady beat")
        return [path], data

    def _order(self, ctx: Context, unit: Unit):
        listed = unit.payload["tracks"]
        tracks = [ctx.manifest.record(self.name, t["id"]).data for t in listed]
        mode = unit.config["order"]
        idx = flow.flow(tracks) if mode == "flow" else list(range(len(listed)))
        titles = [t["title"] for t in listed]
        why = flow.reasons(tracks, idx, titles, mode)
        data = {"mode": mode, "order": [listed[i]["id"] for i in idx],
                "why": {listed[i]["id"]: w for i, w in zip(idx, why)},
                "cost": {"listed": round(flow.path_cost(tracks, list(range(len(listed)))), 4),
                         "chosen": round(flow.path_cost(tracks, idx), 4)}}
        path = ctx.work_dir(self.name) / "order.json"
        atomic.write_json(path, data)
        if mode == "flow":
            ctx.log.info("sequence: flow order %s (key+tempo cost %.2f, listed %.2f)", " ".join(data["order"]),
                         data["cost"]["chosen"], data["cost"]["listed"])
        return [path], data

    def _distinct(self, ctx: Context, unit: Unit):
        """Pairs of tracks whose chosen takes sound the same; the weaker of each pair (the
        lower pick score; the later track on a tie) is told to choose another take. What
        was avoided before stays avoided, so a track never goes back to a duplicate."""
        tracks = unit.payload["tracks"]
        prev = ctx.artifacts.distinct()
        avoid = {k: set(v) for k, v in (prev.avoid if prev else {}).items()}
        prints = {t["id"]: ctx.manifest.record(self.name, t["id"]).data.get("fingerprint") for t in tracks}
        # Pairs found in earlier rounds stay on record: they say why a track changed take.
        pairs, found, changed = list(prev.pairs) if prev else [], [], set()
        for i, a in enumerate(tracks):
            for b in tracks[i + 1:]:
                # A pick kept although every take failed (noise, silence) is no music to
                # tell apart, and another of its takes would not be better.
                if not prints[a["id"]] or not prints[b["id"]] or a.get("failed") or b.get("failed"):
                    continue
                d = distance(prints[a["id"]], prints[b["id"]])
                if d > unit.config["max_distance"]:
                    continue
                weaker = b if (b["score"] or 0.0) <= (a["score"] or 0.0) else a
                if a["id"] not in changed:  # a track already changing frees its partner
                    changed.add(weaker["id"])
                    avoid.setdefault(weaker["id"], set()).add(weaker["choice"])
                pair = {"a": a["id"], "b": b["id"], "distance": round(d, 4), "changed": weaker["id"],
                        "take": weaker["choice"]}
                found.append(pair)
                if pair not in pairs:
                    pairs.append(pair)
                ctx.log.warning("sequence: %s and %s sound the same (distance %.3f); %s takes another take",
                                a["id"], b["id"], d, weaker["id"])
        data = {"pairs": pairs, "open": found, "avoid": {k: sorted(v) for k, v in sorted(avoid.items())}}
        path = ctx.work_dir(self.name) / "distinct.json"
        atomic.write_json(path, data)
        return [path], data

    def status(self, ctx: Context) -> dict[str, str]:
        order = ctx.manifest.record(self.name, "order")
        pos = {tid: n for n, tid in enumerate(order.data["order"], 1)} if order else {}
        distinct = ctx.artifacts.distinct()
        changed = {p["changed"] for p in distinct.pairs} if distinct else set()
        cells = {}
        for r in ctx.manifest.records(self.name):
            if r.unit in ("order", "distinct"):
                continue
            bpm = f"{r.data['bpm']:.0f} bpm" if r.data.get("bpm") else "no beat"
            cells[r.unit] = (f"#{pos[r.unit]} " if r.unit in pos else "") + f"{initial_key_tag(r.data['key'])} {bpm}" \
                + (" (re-picked: sounded like another track)" if r.unit in changed else "")
        return cells
