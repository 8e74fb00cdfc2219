"""master: loudness-matched, tagged MP3s (or FLACs), cover art, a playlist and album.json.

Units, in the order they run: "analysis" (album mode only: every track's loudness, one
gain for the album), "cover", one per track id, "album" (playlist and album.json). A
track's key holds its own take, title and tags, the master settings, the cover's key and,
in album mode only, the analysis key; so a changed title re-masters that track alone and a
changed master setting re-runs mastering alone.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

from albumgen import atomic
from albumgen.album_year import album_year
from albumgen.artifacts import Master, Pick, Take, Tracklist
from albumgen.audio.io import read_audio
from albumgen.errors import InputError
from albumgen.hashing import sha256_file, sha256_json
from albumgen.inputs import check_file
from albumgen.naming import inside, track_filename, unique_names
from albumgen.stage import Context, Done, NotReady, Stage, Unit

from . import cover as covers
from . import dsp, package, track
from .analysis import analyse
from .config import MasterConfig
from .tags import RG_REFERENCE, replaygain, tag_file

class MasterStage(Stage[MasterConfig]):
    name = "master"
    version = "2"
    Config = MasterConfig
    needs = (Tracklist, Take, Pick)
    makes = (Master,)

    def preflight(self, ctx: Context) -> None:
        cfg = self.settings(ctx)
        if cfg.cover:  # read only after every take renders: check it before the first
            covers.open_cover(ctx.base_dir / cfg.cover, cfg.cover).close()

    def plan(self, ctx: Context) -> list[Unit]:
        cfg = self.settings(ctx)
        tracklist = ctx.artifacts.tracklist()
        if tracklist is None:
            raise NotReady("prompts")
        tl, album = tracklist.model_dump(), ctx.config.album
        meta = {"album": tl["album_title"], "artist": album.artist, "album_artist": album.album_artist or album.artist,
                "year": album_year(ctx.config, ctx.album_dir), "genre": album.genre, "tracks": len(tl["tracks"])}
        chosen = [(t, *_chosen_take(ctx, t)) for t in tl["tracks"]]
        units: list[Unit] = []
        analysis = None
        if cfg.album_mode:
            analysis = self._unit(units, "analysis", cfg.model_dump(include=_ANALYSIS_FIELDS),
                                  {t["id"]: take.wav_sha256 for t, pick, take in chosen},
                                  {t["id"]: take.wav for t, pick, take in chosen})
        cover_cfg = {"title": meta["album"], "artist": meta["artist"], "seed": album.seed, "file": cfg.cover}
        cover = self._unit(units, "cover", cover_cfg,
                           {"file": _cover_hash(ctx, cfg.cover)} if cfg.cover else {}, meta)
        ext = cfg.format
        names = unique_names([track_filename(t["n"], len(chosen), t["title"], ext) for t, *_ in chosen])
        track_cfg = cfg.model_dump(exclude={"cover"})
        for (t, pick, take), name in zip(chosen, names):
            extra = take.model_extra or {}
            tags = {**meta, **t, "score": pick.score, "take": pick.choice, "seed": take.seed,
                    "model": extra.get("model"), "revision": extra.get("revision")}
            inputs = {"take": take.wav_sha256, "cover": cover.key, "tags": sha256_json(tags)}
            if analysis:
                inputs["analysis"] = analysis.key
            self._unit(units, t["id"], {**track_cfg, "file": name}, inputs,
                       {"tags": tags, "wav": take.wav, "file": name})
        self._unit(units, "album", {**track_cfg, "slug": ctx.album_dir.name},
                   {"tracks": sha256_json([u.key for u in units])}, {"meta": meta, "ids": [t["id"] for t, *_ in chosen]})
        return units

    def _unit(self, units: list[Unit], uid: str, config: dict, inputs: dict, payload) -> Unit:
        # Keyed here, not only by the runner: later units hash earlier units' keys.
        unit = Unit(id=uid, config=config, inputs=inputs, payload=payload)
        unit.key = self.key(unit)
        units.append(unit)
        return unit

    def run(self, ctx: Context, units: list[Unit]) -> Iterator[Done]:
        cfg = self.settings(ctx)
        for unit in units:
            t0 = time.monotonic()
            make = {"analysis": self._analysis, "cover": self._cover, "album": self._album}.get(unit.id, self._track)
            outputs, data = make(ctx, cfg, unit)
            yield Done(unit, outputs, data=data, seconds=time.monotonic() - t0)

    def _analysis(self, ctx: Context, cfg: MasterConfig, unit: Unit):
        data = analyse({tid: _in_album(ctx, wav) for tid, wav in unit.payload.items()}, cfg)
        path = inside(ctx.work_dir(self.name), "analysis.json")
        atomic.write_json(path, data)
        ctx.log.info("Album loudness %s LUFS: %+.2f dB on every track", data["loudness"], data["gain_db"])
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
        audio = dsp.prepare(audio, sr, cfg)
        if cfg.album_mode:
            album = ctx.manifest.record("master", "analysis").data
            gain = album["gain_db"]
        else:
            from .loudness import integrated_loudness

            before = integrated_loudness(audio, sr)
            gain = cfg.loudness - before if before > float("-inf") else 0.0
        path = inside(ctx.album_dir, name)
        with atomic.atomic_path(path) as tmp:
            m = {k: (round(v, 4) if isinstance(v, float) else v)
                 for k, v in track.master(audio, sr, cfg, gain, cfg.album_mode, tmp).items()}
            tags["replaygain"] = _replaygain(cfg, m, album if cfg.album_mode else None)
            tag_file(tmp, cfg.format, {**tags, "track": tags["n"], "disc": cfg.disc, "discs": cfg.discs},
                     covers.embed_jpeg(ctx.path("cover.jpg")))
        data = {"file": name, "id": unit.id, "n": tags["n"], "title": tags["title"], "prompt": tags["prompt"],
                "seed": tags["seed"], "model": tags["model"], "revision": tags["revision"], "take": tags["take"],
                "score": tags["score"], "replaygain": tags["replaygain"],
                **m}
        report = inside(ctx.work_dir(self.name), f"{unit.id}.json")
        atomic.write_json(report, data)
        # A silent take has no integrated loudness (None): say so rather than fail to log.
        loudness = "silent" if m["loudness"] is None else f"{m['loudness']:.2f} LUFS"
        ctx.log.info("Mastered %s (%s, %.2f dBTP, limiter %.1f dB)", name, loudness, m["true_peak"], m["limiter_db"])
        return [path, report], data

    def _album(self, ctx: Context, cfg: MasterConfig, unit: Unit):
        meta = unit.payload["meta"]
        tracks = [ctx.manifest.record("master", tid).data for tid in unit.payload["ids"]]
        playlist = inside(ctx.album_dir, f"{ctx.album_dir.name}.m3u8")
        package.write_playlist(playlist, meta, tracks)
        album_json = inside(ctx.album_dir, "album.json")
        package.write_album_json(album_json, meta, cfg, tracks)
        return [playlist, album_json], {"tracks": len(tracks), "duration": round(sum(t["duration"] for t in tracks), 3)}

    def status(self, ctx: Context) -> dict[str, str]:
        return {r.unit: r.data["file"] for r in ctx.manifest.records("master") if "file" in r.data}


_ANALYSIS_FIELDS = {"loudness", "true_peak", "trim", "trim_db", "fade_in", "fade_out"}


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


def _chosen_take(ctx: Context, t: dict) -> tuple[Pick, Take]:
    pick = ctx.artifacts.pick(t["id"])
    if pick is None:
        raise NotReady("pick")
    take = ctx.artifacts.take(t["id"], pick.choice)
    if take is None or take.wav != pick.wav:
        raise NotReady("render")
    return pick, take


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
