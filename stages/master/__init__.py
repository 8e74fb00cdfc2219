"""master: loudness-matched, tagged MP3s (or FLACs), cover art, a playlist and album.json.

Units, in the order they run: "analysis" (album mode only: every track's loudness, one
gain for the album), "cover", one per track id in running order, "mix" (master.mix only:
the continuous mix and its cue sheet), "album" (playlist and album.json). A
track's key holds its own take, title and tags, the master settings, the cover's key and,
in album mode only, the analysis key; so a changed title re-masters that track alone and a
changed master setting re-runs mastering alone.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from albumgen.album_year import album_year
from albumgen.artifacts import Distinct, Master, Music, Order, Pick, Take, Track, Tracklist, track_lyrics
from albumgen.audio.ffmpeg import decode
from albumgen.audio.io import read_audio
from albumgen.audio.loudness import integrated_loudness
from albumgen.engine.store import atomic
from albumgen.engine.store.hashing import sha256_file, sha256_json
from albumgen.errors import InputError, StageError
from albumgen.inputs import check_file
from albumgen.naming import inside, track_filename, unique_names
from albumgen.sizes import counted
from albumgen.stage import Context, Done, NotReady, Plan, Stage, Unit

from . import cover as covers
from . import dsp, package, track
from . import mix as mixing
from .analysis import analyse
from .config import MasterConfig
from .tags import RG_REFERENCE, replaygain, tag_file


class MasterStage(Stage[MasterConfig]):
    name = "master"
    version = "2"
    Config = MasterConfig
    needs = (Tracklist, Take, Pick, Music, Order, Distinct)
    makes = (Master,)

    def outputs(self, ctx: Context) -> tuple[str, ...]:
        # In the album folder, beside what a user may keep there: only names master gives.
        exts = ("mp3", "flac")
        return (f"manifest/{self.folder}/*.json", "cover.jpg", "album.json", f"{ctx.album_dir.name}.m3u8",
                *(f"[0-9]* - *.{ext}" for ext in exts), *(f"* (continuous mix).{ext}" for ext in (*exts, "cue")))

    def preflight(self, ctx: Context) -> None:
        cfg = self.settings(ctx)
        if cfg.cover:  # read only after every take renders: check it before the first
            covers.open_cover(ctx.base_dir / cfg.cover, cfg.cover).close()

    def plan(self, ctx: Context) -> list[Unit]:
        cfg = self.settings(ctx)
        tracklist = ctx.artifacts.tracklist()
        if tracklist is None:
            raise NotReady("prompts")
        album = ctx.config.album
        meta = {"album": tracklist.album_title, "artist": album.artist, "album_artist": album.album_artist or album.artist,
                "year": album_year(ctx.config, ctx.album_dir), "genre": album.genre, "tracks": len(tracklist.tracks)}
        # Track numbers follow the running order. Kept as listed, and outside album mode (one
        # gain from every track), they are known from the tracklist alone: each track is
        # mastered as soon as it is picked and analysed, while later tracks still render.
        early = ctx.config.album.order == "as_listed" and not cfg.album_mode
        ordered = tracklist.tracks if early else _in_order(ctx, tracklist.tracks)
        chosen, music, waiting = [], {}, []
        for t in ordered:
            try:
                pick, take = _chosen_take(ctx, t)
                music[t.id] = _music(ctx, t.id)
            except NotReady:
                if not early:
                    raise
                waiting.append(t.id)
                pick = take = None
            chosen.append((t, pick, take))
        units: list[Unit] = []
        analysis = None
        if cfg.album_mode:
            analysis = self._unit(units, "analysis", cfg.model_dump(include=_ANALYSIS_FIELDS),
                                  {t.id: sha256_json([take.wav_sha256, music[t.id]]) for t, pick, take in chosen},
                                  {t.id: {"wav": take.wav, "music": music[t.id]} for t, pick, take in chosen},
                                  reads=tuple(take.wav for _, _, take in chosen))
        cover_cfg = {"title": meta["album"], "artist": meta["artist"], "seed": album.seed, "file": cfg.cover}
        cover = self._unit(units, "cover", cover_cfg,
                           {"file": _cover_hash(ctx, cfg.cover)} if cfg.cover else {}, meta, standalone=True,
                           reads_pipeline=(cfg.cover,) if cfg.cover else ())
        ext = cfg.format
        # Track numbers follow the running order (sequence's Order), not the tracklist.
        names = unique_names([track_filename(n, len(chosen), t.title, ext) for n, (t, *_) in enumerate(chosen, 1)])
        # The mix's fields change only the mix: a mix switched on re-masters no track.
        track_cfg = cfg.model_dump(exclude={"cover", "mix", "crossfade"})
        for n, ((t, pick, take), name) in enumerate(zip(chosen, names), 1):
            if take is None:
                continue  # waiting on its pick or analysis
            m = music[t.id]
            tags = {**meta, **track_tags(t), "n": n, "score": pick.score, "take": pick.choice, "seed": take.seed,
                    "model": take.model, "revision": take.revision, "key": m["key"], "bpm": m["bpm"]}
            if track_lyrics(t):  # the USLT frame names the lyric's language; tracks without keep their hashes
                tags["language"] = ctx.config.album.language
            inputs = {"take": take.wav_sha256, "cover": cover.key, "tags": sha256_json(tags), "music": sha256_json(m)}
            if analysis:
                inputs["analysis"] = analysis.key
            # The scheduler runs ready units side by side: a track embeds the cover and, in
            # album mode, reads the album gain, so it comes after them.
            self._unit(units, t.id, {**track_cfg, "file": name}, inputs,
                       {"tags": tags, "wav": take.wav, "file": name, "music": m}, group=t.id,
                       after=("cover", "analysis") if analysis else ("cover",), reads=(take.wav, "cover.jpg"))
        ids = [t.id for t, *_ in chosen]
        order = ctx.artifacts.order()
        if waiting or order is None or sorted(order.order) != sorted(ids):
            # The mix and the album files need every track and sequence's order and duplicate
            # check: they come later ("album" stands for them, so their records are kept).
            return Plan(units, waiting or ["album"])
        if cfg.mix:
            self._unit(units, "mix", {**track_cfg, "crossfade": cfg.crossfade, "tags": mixing.TAGS_VERSION,
                                      "file": mixing.mix_name(meta["album"], ext)},
                       {tid: u.key for tid, u in zip(ids, units[-len(ids):])},
                       {"meta": meta, "ids": ids, "bpm": [music[tid]["bpm"] for tid in ids]},
                       after=tuple(u.id for u in units), reads=(*names, "cover.jpg"))
        order = order.model_dump()
        distinct = ctx.artifacts.distinct()
        order["distinct"] = distinct.pairs if distinct else []
        self._unit(units, "album", {**track_cfg, "mix": cfg.mix, "slug": ctx.album_dir.name},
                   {"tracks": sha256_json([u.key for u in units]), "order": sha256_json(order)},
                   {"meta": meta, "ids": ids, "order": order}, after=tuple(u.id for u in units))
        return units

    def _unit(self, units: list[Unit], uid: str, config: dict, inputs: dict, payload, **ready) -> Unit:
        # Keyed here, not only by the runner: later units hash earlier units' keys.
        unit = Unit(id=uid, config=config, inputs=inputs, payload=payload, **ready)
        unit.key = self.key(unit)
        units.append(unit)
        return unit

    def run(self, ctx: Context, units: list[Unit]) -> Iterator[Done]:
        cfg = self.settings(ctx)
        for unit in units:
            t0 = time.monotonic()
            make = {"analysis": self._analysis, "cover": self._cover, "mix": self._mix,
                    "album": self._album}.get(unit.id, self._track)
            outputs, data = make(ctx, cfg, unit)
            yield Done(unit, outputs, data=data, seconds=time.monotonic() - t0)

    def _analysis(self, ctx: Context, cfg: MasterConfig, unit: Unit):
        data = analyse({tid: (_in_album(ctx, p["wav"]), p["music"]) for tid, p in unit.payload.items()}, cfg)
        path = inside(ctx.work_dir(self.name), "analysis.json")
        atomic.write_json(path, data)
        ctx.log.info("master: album loudness %s LUFS: %+.2f dB on every track", data["loudness"], data["gain_db"])
        return [path], data

    def _cover(self, ctx: Context, cfg: MasterConfig, unit: Unit):
        meta = unit.payload
        if cfg.cover:
            img = covers.user_cover(ctx.base_dir / cfg.cover, cfg.cover)
        else:
            img = covers.generated_cover(meta["album"], meta["artist"], ctx.config.album.seed)
        path = inside(ctx.album_dir, "cover.jpg")
        atomic.write_bytes(path, covers.to_jpeg(img, covers.SAVE_SIZE, 90))
        return [path], {"size": covers.SAVE_SIZE, "source": cfg.cover or "generated"}

    def _track(self, ctx: Context, cfg: MasterConfig, unit: Unit):
        tags, name = dict(unit.payload["tags"]), unit.payload["file"]
        audio, sr = read_audio(_in_album(ctx, unit.payload["wav"]))
        audio, end = dsp.prepare(audio, sr, cfg, unit.payload["music"])
        if cfg.album_mode:
            album = ctx.manifest.record("master", "analysis").data
            gain = album["gain_db"]
        else:
            before = integrated_loudness(audio, sr)
            gain = cfg.loudness - before if before > float("-inf") else 0.0
        path = inside(ctx.album_dir, name)
        with atomic.atomic_path(path) as tmp:
            m = {k: (round(v, 4) if isinstance(v, float) else v)
                 for k, v in track.master(audio, sr, cfg, gain, cfg.album_mode, tmp, name).items()}
            tags["replaygain"] = _replaygain(cfg, m, album if cfg.album_mode else None)
            tag_file(tmp, cfg.format, {**tags, "track": tags["n"], "disc": cfg.disc, "discs": cfg.discs},
                     covers.embed_jpeg(ctx.path("cover.jpg")))
        data = {"file": name, "id": unit.id, "n": tags["n"], "title": tags["title"], "prompt": tags["prompt"],
                "seed": tags["seed"], "model": tags["model"], "revision": tags["revision"], "take": tags["take"],
                "score": tags["score"], "replaygain": tags["replaygain"], "ending": end.record(),
                **{k: unit.payload["music"].get(k) for k in ("key", "camelot", "bpm", "energy")}, **m}
        report = inside(ctx.work_dir(self.name), f"{unit.id}.json")
        atomic.write_json(report, data)
        # A silent take has no integrated loudness (None): say so rather than fail to log.
        loudness = "silent" if m["loudness"] is None else f"{m['loudness']:.2f} LUFS"
        ctx.log.info("master: %s (%s, %.2f dBTP, limiter %.1f dB; ends: %s)", name, loudness, m["true_peak"],
                     m["limiter_db"], end.why)
        return [path, report], data

    def _mix(self, ctx: Context, cfg: MasterConfig, unit: Unit):
        meta, ids = unit.payload["meta"], unit.payload["ids"]
        recs = [ctx.manifest.record("master", tid).data for tid in ids]
        tracks = [decode(inside(ctx.album_dir, r["file"]), channels=2, error=StageError)[0] for r in recs]
        sr = cfg.sample_rate
        fades = [mixing.crossfade_seconds(cfg.crossfade, bpm) for bpm in unit.payload["bpm"][:-1]]
        audio, starts = mixing.assemble(tracks, sr, fades)
        name = unit.config["file"]
        path = inside(ctx.album_dir, name)
        before = integrated_loudness(audio, sr)
        with atomic.atomic_path(path) as tmp:
            m = track.master(audio, sr, cfg, cfg.loudness - before if before > float("-inf") else 0.0, False, tmp,
                             name)
            tag_file(tmp, cfg.format, mixing.mix_tags(meta, len(ids), m), covers.embed_jpeg(ctx.path("cover.jpg")))
        cue = inside(ctx.album_dir, name.rsplit(".", 1)[0] + ".cue")
        atomic.write_text(cue, mixing.cue_sheet(name, cfg.format, meta, [r["title"] for r in recs], starts, sr))
        data = {"file": name, "cue": cue.name, "starts": [round(s / sr, 4) for s in starts],
                "crossfades": [round(f, 3) for f in fades], "duration": round(m["duration"], 3),
                "loudness": None if m["loudness"] is None else round(m["loudness"], 4),
                "true_peak": None if m["true_peak"] is None else round(m["true_peak"], 4), "encodes": m["encodes"],
                "album": mixing.release_title(meta["album"])}
        ctx.log.info("master: mixed %s (%s, %.0f s)", name, counted(len(ids), "track"), m["duration"])
        return [path, cue], data

    def _album(self, ctx: Context, cfg: MasterConfig, unit: Unit):
        meta = unit.payload["meta"]
        tracks = [ctx.manifest.record("master", tid).data for tid in unit.payload["ids"]]
        playlist = inside(ctx.album_dir, f"{ctx.album_dir.name}.m3u8")
        package.write_playlist(playlist, meta, tracks)
        album_json = inside(ctx.album_dir, "album.json")
        order = unit.payload["order"]
        for t in tracks:
            t["order_why"] = order["why"].get(t["id"])
        mixed = ctx.manifest.record("master", "mix") if cfg.mix else None
        package.write_album_json(album_json, meta, cfg, tracks, {k: order[k] for k in ("mode", "cost", "distinct")},
                                 mixed.data if mixed else None)
        return [playlist, album_json], {"tracks": len(tracks), "duration": round(sum(t["duration"] for t in tracks), 3)}

    def status(self, ctx: Context) -> dict[str, str]:
        return {r.unit: r.data["file"] for r in ctx.manifest.records("master") if "file" in r.data}


_ANALYSIS_FIELDS = {"loudness", "true_peak", "trim", "trim_db", "fade_in", "fade_out", "ending"}


def _in_order(ctx: Context, tracks: list[Track]) -> list[Track]:
    order = ctx.artifacts.order()
    if order is None:
        raise NotReady("sequence")
    by_id = {t.id: t for t in tracks}
    if sorted(order.order) != sorted(by_id):
        raise NotReady("sequence")  # an order of another tracklist: sequence runs first
    return [by_id[tid] for tid in order.order]


def _music(ctx: Context, tid: str) -> dict:
    """What master reads of sequence's analysis: beats and the asked end for the ending,
    key and tempo for the tags (not the chroma: it changes nothing here)."""
    music = ctx.artifacts.music(tid)
    if music is None:
        raise NotReady("sequence")
    return {k: getattr(music, k) for k in ("key", "camelot", "bpm", "energy", "beats", "asked_end")}


def _replaygain(cfg: MasterConfig, m: dict, album: dict | None) -> dict:
    """Track values from the decoded file. Album values: in album mode from the analysis;
    in track mode every track sits at the target, so the album does too, and no track
    peaks above the ceiling (a bound, which is what a player's clipping guard needs)."""
    if m["loudness"] is None or m["true_peak"] is None:
        return {}
    track_gain, track_peak = replaygain(m["loudness"], m["true_peak"])
    if album is not None and album["album_loudness"] is not None:
        album_gain, album_peak = replaygain(album["album_loudness"], album["album_peak"])
    else:
        album_gain, album_peak = replaygain(cfg.loudness, cfg.true_peak)
    return {"track_gain": track_gain, "track_peak": track_peak, "album_gain": album_gain, "album_peak": album_peak,
            "reference": f"{RG_REFERENCE:.1f} LUFS"}


def _chosen_take(ctx: Context, t: Track) -> tuple[Pick, Take]:
    pick = ctx.artifacts.pick(t.id)
    if pick is None:
        raise NotReady("pick")
    take = ctx.artifacts.take(t.id, pick.choice)
    if take is None or take.wav != pick.wav:
        raise NotReady("render")
    return pick, take


def track_tags(track: Track) -> dict:
    """What a track gives its file's tags, by name: the fields a tag shows, so a field added
    to Track later (or a prompt source's extra, like a melody file) changes no master key.
    Lyrics only where a track has them: tracks without keep the keys they had."""
    tags = {"id": track.id, "n": track.n, "title": track.title, "prompt": track.prompt}
    if track_lyrics(track):
        tags["lyrics"] = track_lyrics(track)
    return tags


def _in_album(ctx: Context, rel: str) -> Path:
    path = (ctx.album_dir / rel).resolve()
    if not path.is_relative_to(ctx.album_dir.resolve()):
        raise InputError(f"master: take {rel!r} is outside the album folder", "rebuild the picks (--force pick)")
    return path


def _cover_hash(ctx: Context, rel: str) -> str:
    path = ctx.base_dir / rel
    check_file(path, f"master.cover: {rel}", max_bytes=covers.MAX_COVER_BYTES,
               missing=(f"master.cover: {rel} not found", "check the path; it is relative to the pipeline file"))
    return sha256_file(path)
