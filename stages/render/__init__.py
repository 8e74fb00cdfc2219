"""render: MusicGen takes, several per track, each with its own seed and saved tokens."""
from __future__ import annotations

from collections.abc import Iterator

from albumgen.artifacts import Pick, Take, Track, Tracklist, parse_take_id, take_id, track_lyrics, track_melody
from albumgen.audio.io import check_audio
from albumgen.engine.store.hashing import derive_seed, sha256_file, sha256_text
from albumgen.inputs import resolve_audio
from albumgen.models.backend import backend
from albumgen.stage import Context, Done, NotReady, Stage, Unit

from .config import RenderConfig, no_melody


class RenderStage(Stage[RenderConfig]):
    name = "render"
    version = "2"  # 2: per-take hash noise and the fast loop (other tokens than 1 for a seed)
    Config = RenderConfig
    needs = (Tracklist,)
    makes = (Take,)
    feedback = (Pick,)  # a pick may ask for more takes of its track (Pick.extra_takes)
    folder = "takes"
    resources = "device"  # one loaded model, batches across tracks
    units_are = "takes"
    sidecars = ("*/take-*.json",)

    def outputs(self, ctx: Context) -> tuple[str, ...]:
        return (f"manifest/{self.folder}/*/take-*",)  # tokens or latents, audio, sidecar

    def preflight(self, ctx: Context) -> None:
        from albumgen.models.musicgen import check_device

        cfg = self.settings(ctx)
        check_device(cfg.device)
        backend(cfg.backend).check_installed()  # an extra's backend: before the prompts (maybe an LLM) run
        check_model_here(ctx, cfg)
        check_melody_model(ctx, cfg)
        melodies = cfg.melody.values() if isinstance(cfg.melody, dict) else [cfg.melody]
        audio = [("render.intro", cfg.intro)] + [("render.melody", m) for m in sorted(set(melodies) - {None})]
        for field, rel in audio:  # decoded only once the model is loaded: check they are audio before any work
            if rel:
                check_audio(ctx.base_dir, rel, field)
        if cfg.intro:  # and that the take has room to go on from it
            from albumgen.models.reference import check_intro_fits

            check_intro_fits(resolve_audio(ctx.base_dir, cfg.intro, "render.intro"), cfg.seconds, cfg.max_window)

    def plan(self, ctx: Context) -> list[Unit]:
        return self._plan(ctx, {})

    def plan_recovery(self, ctx: Context) -> list[Unit]:
        # A retry round's or `--more` takes are planned from the pick record; with it lost,
        # plan as many takes as each track's folder holds, so they come back before the pick.
        on_disk: dict[str, int] = {}
        for sidecar in ctx.work_dir(self.name).glob("*/take-*.json"):
            number = sidecar.name[len("take-"):-len(".json")]
            if number.isdigit():
                on_disk[sidecar.parent.name] = max(on_disk.get(sidecar.parent.name, 0), int(number))
        return self._plan(ctx, on_disk)

    def _plan(self, ctx: Context, at_least: dict[str, int]) -> list[Unit]:
        cfg = self.settings(ctx)
        tracklist = ctx.artifacts.tracklist()
        if tracklist is None:
            raise NotReady("prompts")
        # The intro's contents, not its name: a re-recorded intro renders again.
        shared = {"intro": sha256_file(resolve_audio(ctx.base_dir, cfg.intro, "render.intro"))} if cfg.intro else {}
        # A track's melody by its contents (only tracks that have one: the others keep their keys).
        melodies = {t.id: {"melody": sha256_file(resolve_audio(ctx.base_dir, *melody_of(cfg, t)))}
                    for t in tracklist.tracks if melody_of(cfg, t)[0]}
        units = []
        for track in tracklist.tracks:
            for n in range(1, max(takes_wanted(ctx, track.id), at_least.get(track.id, 0)) + 1):
                seed = derive_seed(ctx.config.album.seed, track.id, n)
                if backend(cfg.backend).songs:
                    units.append(song_unit(ctx, cfg, track, n, seed))
                    continue
                units.append(Unit(
                    id=take_id(track.id, n),
                    config={**cfg.key_fields(), "seed": seed},
                    # Only this track's prompt: editing one prompt re-renders that track only.
                    inputs={"prompt": sha256_text(track.prompt), **shared, **melodies.get(track.id, {})},
                    payload={"track": track.id, "take": n, "seed": seed, "prompt": track.prompt,
                             "melody": melody_of(cfg, track)[0]},
                    group=track.id,
                    reads_pipeline=tuple(f for f in (cfg.intro, melody_of(cfg, track)[0]) if f),
                ))
            if backend(cfg.backend).songs:  # a span of a song remade from its latents
                units += repaint_units(ctx, cfg, track)
        return units

    def run(self, ctx: Context, units: list[Unit]) -> Iterator[Done]:
        cfg = self.settings(ctx)
        if backend(cfg.backend).songs:
            from .songs import render_songs

            yield from render_songs(ctx, cfg, units)
            return
        from .engine import render_units

        yield from render_units(ctx, cfg, units)

    def describe(self, ctx: Context, pending: int | None = None) -> list[str]:
        from .estimate import describe

        tracklist = ctx.artifacts.tracklist()
        tracks = len(tracklist.tracks) if tracklist else ctx.config.album.tracks
        return describe(ctx, self.settings(ctx), tracks, pending)

    def batch_size(self, ctx: Context) -> int | None:
        size = self.settings(ctx).batch_size
        return size if isinstance(size, int) else None

    def status(self, ctx: Context) -> dict[str, str]:
        counts: dict[str, int] = {}
        repaints: dict[str, int] = {}
        for rec in ctx.manifest.records(self.name):
            tid, n = parse_take_id(rec.unit)
            into = repaints if n > REPAINT_BASE else counts  # repaints are not takes asked for
            into[tid] = into.get(tid, 0) + 1
        return {tid: f"{counts.get(tid, 0)}/{takes_wanted(ctx, tid)}"
                + (f" + {repaints[tid]} repainted" if tid in repaints else "") for tid in {**counts, **repaints}}


def check_model_here(ctx: Context, cfg: RenderConfig) -> str:
    """The checkpoint is on this machine (or on the hub, when it may be used), before the
    prompts run or the album folder exists. A ray build loads it on the cluster's nodes,
    which have their own caches: there it is checked where it loads."""
    from albumgen.models import acestep_tiny, audiocraft_tiny, tiny
    from albumgen.models.backend import backend
    from albumgen.models.checkpoints import check_model

    if ctx.config.executor.kind == "ray":
        return "cluster"
    presets = tiny.PRESETS + acestep_tiny.PRESETS + audiocraft_tiny.PRESETS
    return check_model(cfg.model, ctx.base_dir, backend(cfg.backend), presets)


def check_melody_model(ctx: Context, cfg: RenderConfig) -> None:
    """Melodies asked of a checkpoint whose name or config says it takes none: said now, not
    once the model has loaded after the prompts ran. Track melodies count where the
    tracklist is made; a model only loading tells about is checked when it loads."""
    from albumgen.models import acestep_tiny, audiocraft_tiny, tiny
    from albumgen.models.checkpoints import takes_melody

    tracklist = ctx.artifacts.tracklist()
    if not cfg.melody and not (tracklist and any(track_melody(t) for t in tracklist.tracks)):
        return
    presets = tiny.PRESETS + acestep_tiny.PRESETS + audiocraft_tiny.PRESETS
    if takes_melody(cfg.model, ctx.base_dir, presets) is False:
        raise no_melody(cfg)


def song_unit(ctx: Context, cfg: RenderConfig, track: Track, n: int, seed: int) -> Unit:
    """A whole-song take (backend acestep): the prompt's tempo, key and metre go to the
    model as its own bpm, keyscale and timesignature, and the track's lyrics (if any) in
    the album's language. All three are read from the prompt, whose hash is in the key."""
    from albumgen.prompt_music import asked_key, asked_meter, asked_tempo

    lyrics = track_lyrics(track) or ""
    language = ctx.config.album.language
    inputs = {"prompt": sha256_text(track.prompt)}
    if lyrics:  # entered only when present: instrumental takes keep their keys
        inputs["lyrics"] = sha256_text(f"{language}\n{lyrics}")
    return Unit(id=take_id(track.id, n), config={**cfg.key_fields(), "seed": seed}, inputs=inputs,
                payload={"track": track.id, "take": n, "seed": seed, "prompt": track.prompt, "lyrics": lyrics,
                         "language": language, "bpm": asked_tempo(track.prompt), "key": asked_key(track.prompt),
                         "meter": asked_meter(track.prompt)},
                group=track.id)


REPAINT_BASE = 1000


def repaint_number(parent: int, n: int) -> int:
    """The take number of the n-th repaint a track's pick asked for, of take `parent`: 2001
    for a first of take 2. Apart from render.takes and every retry's numbers, and stable."""
    return parent * REPAINT_BASE + n


def repaint_units(ctx: Context, cfg: RenderConfig, track: Track) -> list[Unit]:
    """A take per span pick asked to make again: the parent's latents outside the span kept,
    the span denoised anew with its own seed (the rest of the song as its context)."""
    pick = ctx.artifacts.pick(track.id)
    units = []
    for req in pick.repaints if pick else []:
        parent = ctx.artifacts.take(track.id, req["take"])
        if parent is None or not parent.latents:
            continue
        n = repaint_number(req["take"], req["n"])
        seed = derive_seed(ctx.config.album.seed, track.id, n)
        unit = song_unit(ctx, cfg, track, n, seed)
        span = [req["start"], req["end"]]
        unit.config["repaint"] = {"parent": req["take"], "span": span}
        unit.inputs["parent"] = parent.wav_sha256
        unit.payload["repaint"] = {"parent": req["take"], "start": span[0], "end": span[1],
                                   "latents": parent.latents, "wav": parent.wav}
        unit.reads = (parent.latents, parent.wav)
        unit.after = (take_id(track.id, req["take"]),)
        units.append(unit)
    return units


def melody_of(cfg: RenderConfig, track: Track) -> tuple[str | None, str]:
    """A track's melody file and what named it: its own (a melody column or field in the
    prompt source) over render.melody."""
    if track_melody(track):
        return track_melody(track), f"melody of {track.id}"
    return cfg.melody_for(track.id), "render.melody"


def takes_wanted(ctx: Context, track_id: str) -> int:
    """render.takes plus the takes pick's retry rounds asked for this track."""
    pick = ctx.artifacts.pick(track_id)
    return RenderStage().settings(ctx).takes + (pick.extra_takes if pick else 0)
