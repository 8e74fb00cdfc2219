"""prompts: the tracklist (album title, track titles, one MusicGen prompt per track)."""
from __future__ import annotations

import time
from collections.abc import Iterator

from albumgen.artifacts import Tracklist
from albumgen.audio.io import check_audio
from albumgen.engine.store.hashing import sha256_file
from albumgen.engine.store.recovery import write_sidecar
from albumgen.sizes import counted
from albumgen.stage import Context, Done, Stage, Unit

from .config import InlineTrack, PromptsConfig
from .llm import check_api_key
from .parse import Parsed, parse_file
from .sources import gather, inline_candidate, select, sings

TRACKLIST = "tracklist.json"  # in the stage's work folder


class PromptsStage(Stage[PromptsConfig]):
    name = "prompts"
    version = "2"  # 2: the full cleaner, titles from sources, stored LLM replies
    Config = PromptsConfig
    needs = ()
    makes = (Tracklist,)
    resources = "driver"  # one unit, first of all; an LLM call needs no worker process
    sidecars = (TRACKLIST,)

    def outputs(self, ctx: Context) -> tuple[str, ...]:
        return (f"manifest/{self.folder}/{TRACKLIST}",)  # not the LLM's cached replies beside it

    def preflight(self, ctx: Context) -> None:
        cfg = self.settings(ctx)
        melodies: list[tuple[str, str]] = []
        if cfg.source == "file":  # a file that is not text fails here, before anything runs
            parsed = parse_file(cfg.resolve_file(ctx.base_dir), f"prompts.file: {cfg.file}")
            melodies = [(c.melody, f"prompts.file ({cfg.file}) melody") for c in parsed.candidates if c.melody]
            # enough prompts for album.tracks: "3 prompts for 8 tracks" stops here, not after the album folder is made
            select(parsed, cfg, ctx.config.album.tracks, f"prompts.file ({cfg.file})", sings(ctx))
        elif cfg.source == "inline":
            melodies = [(t.melody, f"prompts.inline.{i}.melody") for i, t in enumerate(cfg.inline)
                        if isinstance(t, InlineTrack) and t.melody]
            select(Parsed([inline_candidate(t) for t in cfg.inline]), cfg, ctx.config.album.tracks, "prompts.inline",
                   sings(ctx))
        if cfg.uses_llm and not self._tracklist_done(ctx):
            check_api_key(cfg.llm)
        # Every melody named must be audio, checked now: render decodes them only after the
        # prompts (and maybe an LLM) ran and a model loaded.
        for rel, field in dict.fromkeys(melodies):
            check_audio(ctx.base_dir, rel, field)

    def _tracklist_done(self, ctx: Context) -> bool:
        """A built tracklist needs no LLM call, so a resume needs no key."""
        return all(ctx.manifest.is_done(self.key(u), self.name, u.id) for u in self.plan(ctx))

    def plan(self, ctx: Context) -> list[Unit]:
        cfg = self.settings(ctx)
        album = ctx.config.album
        # Only what shapes the tracklist: never the key, its variable's name, timeouts or
        # retry settings, so changing those never re-asks the LLM.
        config = {"source": cfg.source, "tracks": album.tracks, "brief": album.brief, "genre": album.genre,
                  "title": album.title, "seed": album.seed, **cfg.key_fields(album.seed)}
        if album.vocals == "lyrics":  # only then: instrumental tracklists keep their keys
            config.update(vocals=album.vocals, language=album.language, max_lyrics_chars=cfg.max_lyrics_chars)
        inputs = {}
        if cfg.source == "file":
            inputs["file"] = sha256_file(cfg.resolve_file(ctx.base_dir))
        return [Unit(id="tracklist", config=config, inputs=inputs, standalone=True)]

    def preview(self, ctx: Context, units: list[Unit]) -> dict[str, dict] | None:
        cfg = self.settings(ctx)
        if cfg.uses_llm:  # known only by asking the LLM, which a check never does
            return None
        tracklist, _ = gather(ctx, cfg)  # a file, the inline list or the composer: nothing written
        return {u.id: tracklist for u in units}

    def run(self, ctx: Context, units: list[Unit]) -> Iterator[Done]:
        for unit in units:
            t0 = time.monotonic()
            tracklist, stored_replies = gather(ctx, self.settings(ctx))
            path = ctx.work_dir(self.name) / TRACKLIST
            # A sidecar: a lost record is rebuilt from it, so the LLM is never asked twice.
            write_sidecar(path, tracklist, self.name, unit, stored_replies, ctx.album_dir)
            ctx.log.info("prompts: tracklist %r, %s", tracklist["album_title"], counted(len(tracklist["tracks"]), "track"))
            yield Done(unit, [path, *stored_replies], data=tracklist, seconds=time.monotonic() - t0)

    @classmethod
    def commands(cls) -> list:
        from .cli import prompts

        return [prompts]
