"""decode: a take's audio from its saved tokens through MultiBandDiffusion (render.decoder: mbd).

One keyed unit per take: its inputs are the take's tokens, its config the decoder and its
weights. So switching render.decoder decodes again and never renders a take again, and a
take whose tokens did not change keeps its decoded audio. With the default decoder
(encodec) this stage has no units: a take's own audio is EnCodec's, written by render.
pick and master prefer this stage's audio for a take when it exists.
"""
from __future__ import annotations

import time
from typing import Iterator

from albumgen.stage import Context, Done, Stage, Unit

DECODERS = {"mbd": "MultiBandDiffusion"}


class DecodeStage(Stage):
    name = "decode"
    version = "1"
    Config = None  # configured by render.decoder: the decoder belongs with the model that made the tokens
    needs = ("take",)
    makes = ("take_audio",)

    def plan(self, ctx: Context) -> list[Unit]:
        cfg = ctx.stage_config("render")
        if cfg.decoder == "encodec":
            return []
        tiny = _tiny(cfg.model)
        units = []
        for rec in ctx.manifest.records("render"):
            codes = next((rel for rel in rec.outputs if rel.endswith(".codes")), None)
            if codes is None:
                continue
            units.append(Unit(
                id=rec.unit,
                # the decoder's weights and the take's seed (MBD starts from seeded noise)
                config={"decoder": cfg.decoder, "weights": "tiny" if tiny else "hub", "seed": rec.data["seed"]},
                inputs={"codes": rec.outputs[codes].sha256},
                payload={"codes": codes, "data": rec.data},
            ))
        return units

    def run(self, ctx: Context, units: list[Unit]) -> Iterator[Done]:
        import numpy as np
        import torch

        from albumgen.audio.io import write_wav
        from albumgen.models.mbd import decode_mbd, load_mbd
        from albumgen.models.musicgen import pick_device

        cfg = ctx.stage_config("render")
        loaded = load_mbd(_tiny(cfg.model), pick_device(cfg.device))
        for unit in units:
            t0 = time.monotonic()
            data = unit.payload["data"]
            codes = torch.from_numpy(np.load(ctx.path(unit.payload["codes"])).astype(np.int64))
            audio = decode_mbd(loaded, codes, data["seed"], data.get("channels", 1))
            wav = ctx.path(unit.payload["codes"][:-len(".codes")] + f".{cfg.decoder}.wav")
            write_wav(wav, audio.numpy().T, data["sample_rate"])
            seconds = time.monotonic() - t0
            ctx.log.info("decode: %s with %s in %.1f s", unit.id, DECODERS[cfg.decoder], seconds)
            # the take's identity travels along, so master's tags read the same from either record
            keep = {k: data.get(k) for k in ("track", "take", "seed", "prompt", "model", "revision", "sample_rate",
                                              "channels")}
            yield Done(unit, [wav], data={**keep, "decoder": cfg.decoder, "decoder_weights": loaded.model_id},
                       seconds=seconds)

    def status(self, ctx: Context) -> dict[str, str]:
        """Which decoder made each track's take audio: `encodec` (render's own), `2/4 mbd`."""
        decoder = ctx.stage_config("render").decoder
        takes: dict[str, int] = {}
        for rec in ctx.manifest.records("render"):
            tid = rec.unit.split("/")[0]
            takes[tid] = takes.get(tid, 0) + 1
        if decoder == "encodec":
            return {tid: "encodec" for tid in takes}
        done: dict[str, int] = {}
        for rec in ctx.manifest.records(self.name):
            tid = rec.unit.split("/")[0]
            done[tid] = done.get(tid, 0) + 1
        return {tid: f"{done.get(tid, 0)}/{n} {decoder}" for tid, n in takes.items()}


def _tiny(model: str) -> bool:
    # tiny presets are random weights end to end: their takes decode with a random MBD
    return model.startswith("tiny")
