"""sequence: what a person sequencing an album listens for, and the running order.

Units: one per track (the chosen take's tempo, beats, key and energy, from
albumgen.audio.music) and "order" (album.order: as_listed keeps the tracklist's order,
flow orders for a smooth journey; order.py). Master reads both: the beats to end each
track on a phrase, the key and tempo for the TKEY/TBPM tags, the order for track numbers,
file names, the playlist and album.json. The analysis runs once per chosen take: a changed
album.order reorders without analysing again.
"""
from __future__ import annotations

import time
from typing import Iterator

from albumgen import atomic
from albumgen.artifacts import Music, Order, Pick, Take, Tracklist
from albumgen.audio.io import read_audio
from albumgen.audio.music import analyse, initial_key_tag
from albumgen.hashing import sha256_json
from albumgen.stage import Context, Done, NotReady, Stage, Unit

from . import order as flow


class SequenceStage(Stage):
    name = "sequence"
    version = "1"
    # No section of its own: the running order is an album-wide choice (album.order).
    Config = None
    needs = (Tracklist, Take, Pick)
    makes = (Music, Order)

    def plan(self, ctx: Context) -> list[Unit]:
        tracklist = ctx.artifacts.tracklist()
        if tracklist is None:
            raise NotReady("prompts")
        units = []
        for t in tracklist.tracks:
            pick = ctx.artifacts.pick(t.id)
            if pick is None:
                raise NotReady("pick")
            take = ctx.artifacts.take(t.id, pick.choice)
            if take is None or take.wav != pick.wav:
                raise NotReady("render")
            # The asked duration: render.tail renders past it, and the ending is sought near it.
            asked = (take.model_extra or {}).get("duration")
            unit = Unit(id=t.id, config={"asked_end": asked}, inputs={"take": take.wav_sha256},
                        payload={"wav": take.wav})
            unit.key = self.key(unit)
            units.append(unit)
        mode = ctx.config.album.order
        listed = [{"id": t.id, "title": t.title} for t in tracklist.tracks]
        units.append(Unit(id="order", config={"order": mode}, inputs={"music": sha256_json([u.key for u in units])},
                          payload={"tracks": listed}))
        return units

    def run(self, ctx: Context, units: list[Unit]) -> Iterator[Done]:
        for unit in units:
            t0 = time.monotonic()
            outputs, data = (self._order if unit.id == "order" else self._track)(ctx, unit)
            yield Done(unit, outputs, data=data, seconds=time.monotonic() - t0)

    def _track(self, ctx: Context, unit: Unit):
        audio, sr = read_audio(ctx.path(unit.payload["wav"]))
        music = analyse(audio, sr)
        data = {**music.summary(), "asked_end": unit.config["asked_end"]}
        path = ctx.work_dir(self.name) / f"{unit.id}.json"
        atomic.write_json(path, data)
        ctx.log.info("Sequence: %s is %s, %s", unit.id, music.key,
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
            ctx.log.info("Sequence: flow order %s (key+tempo cost %.2f, listed %.2f)", " ".join(data["order"]),
                         data["cost"]["chosen"], data["cost"]["listed"])
        return [path], data

    def status(self, ctx: Context) -> dict[str, str]:
        order = ctx.manifest.record(self.name, "order")
        pos = {tid: n for n, tid in enumerate(order.data["order"], 1)} if order else {}
        cells = {}
        for r in ctx.manifest.records(self.name):
            if r.unit == "order":
                continue
            bpm = f"{r.data['bpm']:.0f} bpm" if r.data.get("bpm") else "no beat"
            cells[r.unit] = (f"#{pos[r.unit]} " if r.unit in pos else "") + f"{initial_key_tag(r.data['key'])} {bpm}"
        return cells
