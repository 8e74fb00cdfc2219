"""Render backends: one declared protocol, and the one place a backend is chosen by name.

A backend loads a checkpoint, renders takes, and keeps what lets a take's audio be made
again exactly (MusicGen's tokens, ACE-Step's latents). Every backend keeps the same
promises: one seed per take, a take independent of the batch it shared, a `tiny` preset
built in code. The render stage asks each the same things:

    check_installed()             an extra's backend says what to install before any work
    load(source, device, dtype)   the model, with the fields a take's record names
    loop(lm)                      what renders a batch of takes (a TakeLoop, or songs.py's
                                  requests for a whole-song backend: `songs` is True)
    encode(lm, audio)             a user's audio as the model's own tokens (render.intro)
    decode(lm, codes)             one take's saved tokens or latents back to audio
    bytes_per_take(lm, seconds, cfg) accelerator memory one more take of `seconds` needs

`backend(name)` is the dispatch; nothing else compares backend names.
"""
from __future__ import annotations

from typing import Any, Protocol

from ..errors import ModelError


class TakeLoop(Protocol):
    """Renders a batch of MusicGen takes: (batch, codebooks, frames) tokens, one seed each."""

    graphs_off: str | None

    def reset(self) -> None: ...

    def kv_bytes_per_take(self, window_frames: int, text_len: int = 64, cfg: bool = True) -> int: ...

    def generate(self, prompts: list[str], seeds: list[int], frames: int, sampling, prompt_codes=None,
                 frame_offset: int = 0, on_step=None, rows: int | None = None, melodies: list | None = None): ...


class Backend(Protocol):
    name: str
    songs: bool  # whole songs in one pass (songs.py) rather than windowed token takes (engine.py)
    marker: str  # the file that proves a checkpoint is there (a cached snapshot, a folder)
    weights_in_folder: bool  # a checkpoint folder must also hold a weights file beside the marker

    def check_installed(self) -> None: ...

    def load(self, source: str, device: str, dtype: str) -> Any: ...

    def loop(self, lm) -> TakeLoop: ...

    def encode(self, lm, audio) -> Any: ...

    def decode(self, lm, codes) -> Any: ...

    def bytes_per_take(self, lm, seconds: float, cfg: bool) -> int: ...


def _kept_loop(lm, make):
    """One loop per loaded model: it keeps its states (and CUDA graphs) between batches."""
    if getattr(lm, "_loop", None) is None:
        lm._loop = make(lm)
    return lm._loop


def _window_bytes(loop, lm, seconds, cfg) -> int:
    return loop.kv_bytes_per_take(int(round(seconds * lm.frame_rate)), cfg=cfg)


class Transformers:
    """MusicGen through HF transformers, rendered by albumgen's fast loop (the default)."""

    name, songs = "transformers", False
    marker, weights_in_folder = "config.json", True

    def check_installed(self):
        """transformers is a dependency of albumgen itself."""

    def load(self, source, device, dtype):
        from .musicgen import load_musicgen

        return load_musicgen(source, device, dtype)

    def loop(self, lm):
        from .fast import FastLoop  # torch and the loop's kernels: only once a render starts

        return _kept_loop(lm, FastLoop)

    def encode(self, lm, audio):
        from .musicgen import encode_audio

        return encode_audio(lm, audio)

    def decode(self, lm, codes):
        from .musicgen import decode_tokens

        return decode_tokens(lm, codes)

    def bytes_per_take(self, lm, seconds, cfg):
        return _window_bytes(self.loop(lm), lm, seconds, cfg)


class AudioCraft:
    """MusicGen through Meta's AudioCraft (an extra), with albumgen's per-take noise."""

    name, songs = "audiocraft", False
    marker, weights_in_folder = "state_dict.bin", False

    def check_installed(self):
        from .audiocraft_backend import require_audiocraft

        require_audiocraft()

    def load(self, source, device, dtype):
        from .audiocraft_backend import load_audiocraft  # the audiocraft extra: optional

        return load_audiocraft(source, device, dtype)

    def loop(self, lm):
        from .audiocraft_backend import AudioCraftLoop

        return _kept_loop(lm, AudioCraftLoop)

    def encode(self, lm, audio):
        from .audiocraft_backend import encode_audio

        return encode_audio(lm, audio)

    def decode(self, lm, codes):
        from .audiocraft_backend import decode_tokens

        return decode_tokens(lm, codes)

    def bytes_per_take(self, lm, seconds, cfg):
        return _window_bytes(self.loop(lm), lm, seconds, cfg)


class AceStep:
    """ACE-Step 1.5 through diffusers (an extra): whole songs, latents kept (songs.py)."""

    name, songs = "acestep", True
    marker, weights_in_folder = "model_index.json", False

    def check_installed(self):
        from .acestep import require_diffusers

        require_diffusers()

    def load(self, source, device, dtype):
        from .acestep import load_acestep  # the acestep extra: optional

        return load_acestep(source, device, dtype)

    def loop(self, lm):
        raise ModelError("render.backend: acestep renders whole songs, not token windows",
                         "a bug: songs.py renders this backend's takes")

    def encode(self, lm, audio):
        raise ModelError("render.intro: the acestep backend takes no intro", "leave render.intro out")

    def decode(self, lm, codes):
        from .acestep import decode_latents

        return decode_latents(lm, codes)

    def bytes_per_take(self, lm, seconds, cfg):
        from .acestep import bytes_per_take

        return bytes_per_take(lm, seconds, guidance=2.0 if cfg else 1.0)  # it asks only whether guidance is on


BACKENDS: dict[str, Backend] = {b.name: b for b in (Transformers(), AudioCraft(), AceStep())}


def backend(name: str) -> Backend:
    """The backend render.backend names (the config schema lists the same names)."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise ModelError(f"render.backend: unknown backend {name!r}", f"use one of: {', '.join(BACKENDS)}") from None
