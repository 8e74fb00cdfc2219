"""master: loudness-matched, tagged MP3s, cover art and a playlist."""
from __future__ import annotations

import json
import time
from typing import Iterator

from albumgen import atomic
from albumgen.audio.io import read_audio
from albumgen.hashing import sha256_json
from albumgen.naming import safe_filename
from albumgen.stage import Context, Done, NotReady, Stage, Unit

from . import dsp
from .config import MasterConfig
from .cover import make_cover
from .encode import encode_mp3, tag_mp3


class MasterStage(Stage):
    name = "master"
    version = "1"
    Config = MasterConfig
    needs = ("pick",)
    makes = ("mp3", "cover", "playlist")

    def plan(self, ctx: Context) -> list[Unit]:
        cfg: MasterConfig = ctx.stage_config("master")
        tracklist = ctx.manifest.record("prompts", "tracklist")
        if tracklist is None:
            raise NotReady("prompts")
        album = ctx.config.album
        tl = tracklist.data
        meta = {"album": tl["album_title"], "artist": album.artist, "album_artist": album.album_artist or album.artist,
                "year": album.year, "genre": album.genre, "tracks": len(tl["tracks"])}
        cover_inputs = {"cover_file": _file_hash(ctx, cfg.cover)} if cfg.cover else {}
        cover = Unit(id="cover", config={"cover": cfg.cover, "title": meta["album"], "artist": meta["artist"]},
                     inputs=cover_inputs, payload=meta)
        cover.key = self.key(cover)
        units = [cover]
        for track in tl["tracks"]:
            pick = ctx.manifest.record("pick", track["id"])
            if pick is None:
                raise NotReady("pick")
            wav = pick.data["wav"]
            take = ctx.manifest.record("render", f"{track['id']}/take-{pick.data['choice']}")
            if take is None or wav not in take.outputs:
                raise NotReady("render")
            units.append(Unit(
                id=track["id"],
                config=cfg.model_dump(exclude={"cover"}),
                inputs={"take": take.outputs[wav].sha256, "cover": cover.key,
                        "tags": sha256_json({**meta, **track, "score": pick.data.get("score")})},
                payload={"track": track, "meta": meta, "wav": wav, "take": take.data, "pick": pick.data},
            ))
        units.append(Unit(id="album", config={"slug": ctx.album_dir.name},
                          inputs={"tracks": sha256_json([u.inputs for u in units])}, payload=meta))
        return units

    def run(self, ctx: Context, units: list[Unit]) -> Iterator[Done]:
        cfg: MasterConfig = ctx.stage_config("master")
        for unit in units:
            t0 = time.monotonic()
            if unit.id == "cover":
                outputs, data = self._cover(ctx, cfg, unit)
            elif unit.id == "album":
                outputs, data = self._album(ctx, unit)
            else:
                outputs, data = self._track(ctx, cfg, unit)
            yield Done(unit, outputs, data=data, seconds=time.monotonic() - t0)

    def _cover(self, ctx, cfg, unit):
        source = (ctx.base_dir / cfg.cover) if cfg.cover else None
        jpeg = make_cover(unit.payload["album"], unit.payload["artist"], size=1000, source=source)
        path = ctx.path("cover.jpg")
        atomic.write_bytes(path, jpeg)
        return [path], {}

    def _track(self, ctx, cfg, unit):
        p = unit.payload
        track, meta = p["track"], p["meta"]
        audio, sr = read_audio(ctx.path(p["wav"]))
        audio = dsp.trim_silence(audio, sr, cfg.trim_db)
        audio = dsp.fade(audio, sr, cfg.fade_in, cfg.fade_out)
        audio = dsp.resample(audio, sr, cfg.sample_rate)
        audio, measured = dsp.normalise(audio, cfg.sample_rate, cfg.loudness, cfg.true_peak)
        name = f"{track['n']:02d} - {safe_filename(track['title'])}.mp3"
        mp3 = ctx.path(name)
        encode_mp3(mp3, audio, cfg.sample_rate, cfg.bitrate)
        tags = {**meta, "title": track["title"], "track": track["n"], "prompt": track["prompt"],
                "seed": p["take"].get("seed"), "model": p["take"].get("model"), "take": p["pick"]["choice"],
                "score": p["pick"].get("score", "")}
        tag_mp3(mp3, tags, ctx.path("cover.jpg").read_bytes())
        data = {"file": name, "title": track["title"], "n": track["n"], "duration": len(audio) / cfg.sample_rate,
                **{k: round(v, 3) for k, v in measured.items()}}
        report = ctx.path(f"manifest/master/{unit.id}.json")
        atomic.write_json(report, data)
        ctx.log.info("Mastered %s (%.1f LUFS, %.1f dBTP)", name, measured["loudness_out"], measured["true_peak"])
        return [mp3, report], data

    def _album(self, ctx, unit):
        meta = unit.payload
        tracks = sorted((r.data for r in ctx.manifest.records("master") if r.unit.startswith("t")),
                        key=lambda d: d["n"])
        lines = ["#EXTM3U", f"#PLAYLIST:{meta['album']}"]
        for t in tracks:
            lines += [f"#EXTINF:{round(t['duration'])},{meta['artist']} - {t['title']}", t["file"]]
        playlist = ctx.path(f"{ctx.album_dir.name}.m3u8")
        atomic.write_text(playlist, "\n".join(lines) + "\n")
        album_json = ctx.path("album.json")
        atomic.write_text(album_json, json.dumps({**meta, "tracklist": tracks}, sort_keys=True, indent=2) + "\n")
        return [playlist, album_json], {"tracks": len(tracks)}

    def status(self, ctx: Context) -> dict[str, str]:
        return {r.unit: r.data.get("file", "") for r in ctx.manifest.records("master") if r.unit.startswith("t")}


def _file_hash(ctx: Context, rel: str) -> str:
    from albumgen.errors import InputError
    from albumgen.hashing import sha256_file

    path = ctx.base_dir / rel
    if not path.is_file():
        raise InputError(f"master.cover: {rel} not found", "check the path; it is relative to the pipeline file")
    return sha256_file(path)
