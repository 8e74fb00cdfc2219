"""decode: a take's audio from its saved tokens through MultiBandDiffusion (render.decoder: mbd).

One keyed unit per take: its inputs are the take's tokens, its config the decoder, its
weights and the take's seed. So switching render.decoder decodes again and never renders a
take again, and a take whose tokens did not change keeps its decoded audio. With the default
decoder (encodec) this stage has no units: a take's own audio is EnCodec's, written by
render. Readers of a Take (pick, master) get the decoded audio as its wav when there is one.
"""
from __future__ import annotations

import time
from collections.abc import Iterator

from albumgen.artifacts import Take, TakeAudio, parse_take_id
from albumgen.engine.store.recovery import write_sidecar
from albumgen.stage import Context, Done, Stage, Unit

DECODERS = {"mbd": "MultiBandDiffusion"}


class DecodeStage(Stage):
    name = "decode"
    version = "1"
    # No section of its own: the decoder is set with the model that made the tokens
    # (render.decoder), read from the render section.
    Config = None
    needs = (Take,)
    makes = (TakeAudio,)
    folder = "takes"  # beside the takes' tokens: take-<n>.mbd.wav
    resources = "device"  # a loaded decoder, like render's model
    # A decode costs device time like a take: a lost record comes back from its sidecar.
    sidecars = tuple(f"*/take-*.{name}.json" for name in DECODERS)

    def preflight(self, ctx: Context) -> None:
        # The decoder loads only after every take is rendered: a missing extra is said now.
        if ctx.config.render.decoder != "encodec":
            from albumgen.models.mbd import require_mbd

            require_mbd()

    def outputs(self, ctx: Context) -> tuple[str, ...]:
        return (f"manifest/{self.folder}/*/take-*",)

    def plan(self, ctx: Context) -> list[Unit]:
        render = ctx.config.render
        if render.decoder == "encodec":
            return []
        weights = "tiny" if _tiny(render.model) else "hub"
        return [Unit(id=take.id,
                     # MBD starts from noise: the take's seed makes its audio the same every time
                     config={"decoder": render.decoder, "weights": weights, "seed": take.seed},
                     inputs={"codes": take.codes_sha256},
                     payload=take, group=take.track, reads=(take.codes,))
                for take in ctx.artifacts.takes() if take.codes]

    def run(self, ctx: Context, units: list[Unit]) -> Iterator[Done]:
        import numpy as np
        import torch

        from albumgen.audio.io import write_wav
        from albumgen.models.mbd import decode_mbd, load_mbd
        from albumgen.models.musicgen import pick_device

        render = ctx.config.render
        loaded = load_mbd(_tiny(render.model), pick_device(render.device))
        for unit in units:
            t0 = time.monotonic()
            take: Take = unit.payload
            codes = torch.from_numpy(np.load(ctx.path(take.codes)).astype(np.int64))
            audio = decode_mbd(loaded, codes, take.seed, take.channels or 1)
            wav = ctx.path(take.codes[:-len(".codes")] + f".{render.decoder}.wav")
            write_wav(wav, audio.numpy().T, take.sample_rate or 32000)
            data = {"track": take.track, "take": take.take, "seed": take.seed,
                    "wav": wav.relative_to(ctx.album_dir).as_posix(), "decoder": render.decoder,
                    "decoder_weights": loaded.model_id}
            sidecar = wav.with_suffix(".json")  # take-<n>.mbd.json
            hashes = write_sidecar(sidecar, data, self.name, unit, [wav], ctx.album_dir)
            seconds = time.monotonic() - t0
            ctx.log.info("decode: %s with %s in %.1f s", unit.id, DECODERS[render.decoder], seconds)
            yield Done(unit, [wav, sidecar], data=data, seconds=seconds, hashes=hashes)

    def status(self, ctx: Context) -> dict[str, str]:
        """Which decoder made each track's take audio: `encodec` (render's own), `2/4 mbd`."""
        decoder = ctx.config.render.decoder
        takes: dict[str, int] = {}
        for take in ctx.artifacts.takes():
            takes[take.track] = takes.get(take.track, 0) + 1
        if decoder == "encodec":
            return {tid: "encodec" for tid in takes}
        done: dict[str, int] = {}
        for rec in ctx.manifest.records(self.name):
            tid, _ = parse_take_id(rec.unit)
            done[tid] = done.get(tid, 0) + 1
        return {tid: f"{done.get(tid, 0)}/{n} {decoder}" for tid, n in takes.items()}


def _tiny(model: str) -> bool:
    # tiny presets are random weights end to end: their takes decode with a random MBD
    return model.startswith("tiny")
