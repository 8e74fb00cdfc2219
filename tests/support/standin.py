"""A stand-in for the render stage's device: an executor whose render units write the
files render writes for a take (a WAV of 10 ms of silence, a codes file, the real sidecar)
and come back one per step, instantly; units of every other stage are held and never finish.
So a test or a bench drives the engine's own scheduler, commits and record store through a
whole render phase without a model."""
from __future__ import annotations

import time
import wave

from albumgen.engine.store.recovery import write_sidecar
from albumgen.stage import Done


def fake_take(ctx, unit) -> Done:
    """The files render writes for a take, with 10 ms of silence as its audio."""
    p = unit.payload
    folder = ctx.work_dir("render") / p["track"]
    folder.mkdir(parents=True, exist_ok=True)
    wav, codes, meta_path = (folder / f"take-{p['take']}.{ext}" for ext in ("wav", "codes", "json"))
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(32000)
        w.writeframes(b"\0\0" * 320)
    codes.write_bytes(b"\0" * 64)
    meta = {"track": p["track"], "take": p["take"], "seed": p["seed"], "prompt": p["prompt"], "backend": "bench",
            "model": "tiny", "sample_rate": 32000, "channels": 1, "seconds": 0.0, "joins": []}
    hashes = write_sidecar(meta_path, meta, "render", unit, [wav, codes], ctx.album_dir)
    return Done(unit, [wav, codes, meta_path], data=meta, hashes=hashes)


class PhaseOver(Exception):
    """Only units that never finish are left: the render phase is over."""


class StandIn:
    """An executor whose render units finish one per step, instantly; the rest never do."""

    def __init__(self, ctx):
        self.ctx, self.queue = ctx, []
        self.held: list[tuple[str, str, int]] = []  # (stage, unit, takes committed when it was submitted)
        self.committed = 0
        self.marks: list[float] = []  # when each wait() was entered: the end of a driver step

    def submit(self, stage, units):
        if stage.name == "render":
            self.queue += [(stage, u) for u in units]
        else:
            self.held += [(stage.name, u.id, self.committed) for u in units]

    def wait(self):
        self.marks.append(time.process_time())
        if not self.queue:
            raise PhaseOver  # only held units are left: the render phase is over
        stage, unit = self.queue.pop(0)
        done = fake_take(self.ctx, unit)
        self.committed += 1
        self.marks.append(time.process_time())  # the step starts when the unit comes back
        return [(stage, done)]

    def close(self):
        pass
