"""A user's audio as a take's starting point (render.intro) in either backend: read, fold to
the model's rate and channels, and turn into the model's own EnCodec tokens. A take then
continues those tokens, as AudioCraft's `generate_continuation` does, and keeps them as
its first frames."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..audio.signal import resample, to_mono
from ..errors import InputError
from .backend import backend


def load_reference(path: Path, sample_rate: int, channels: int) -> np.ndarray:
    """float32 (channels, samples) at `sample_rate`, any format read_audio reads."""
    # Here, not at the top: melody_window is on every melody render's path, and a GPU
    # machine rendering from the source tree need not have soundfile to decode a melody.
    from ..audio.io import read_audio

    audio, sr = read_audio(path)
    audio = resample(audio, sr, sample_rate).astype(np.float32)  # the front end's, as every stage's
    if channels == 1:
        audio = to_mono(audio)[:, None]
    elif audio.shape[1] == 1:
        audio = np.repeat(audio, channels, axis=1)
    return np.ascontiguousarray(audio[:, :channels].T)


# Every MusicGen albumgen renders (either backend, the tiny presets too) codes 32 kHz audio
# at 50 frames a second: an intro's length in frames is known before any model loads.
MUSICGEN_RATE, MUSICGEN_FRAMES = 32000, 50


def check_intro_fits(path: Path, seconds: float, max_window: float, field: str = "render.intro") -> None:
    """The checks' side of intro_codes: the intro leaves the take room to continue, said
    before any work rather than once the model has loaded (after the prompts ran)."""
    wav = load_reference(path, MUSICGEN_RATE, 1)
    frames = max(1, int(round(seconds * MUSICGEN_FRAMES)))
    _fit(path, wav.shape[1] // (MUSICGEN_RATE // MUSICGEN_FRAMES), MUSICGEN_FRAMES, frames,
         int(round(max_window * MUSICGEN_FRAMES)), field)


def _fit(path: Path, n: int, rate: int, frames: int, window_frames: int, field: str) -> None:
    if n < 1:
        raise InputError(f"{field}: {path.name} is shorter than one frame", "use a longer intro")
    if n > min(frames, window_frames) - 1:
        raise InputError(f"{field}: {path.name} is {n / rate:.2f} s, longer than the take "
                         f"({frames / rate:.2f} s) or window leaves room for",
                         "shorten the intro or raise render.duration")


def intro_codes(lm, path: Path, frames: int, window_frames: int, field: str = "render.intro"):
    """Tokens (1, codebooks, n) of the intro, n whole frames, leaving room to continue."""
    import torch

    wav = load_reference(path, lm.sample_rate, lm.channels)
    hop = lm.sample_rate // lm.frame_rate
    n = wav.shape[1] // hop
    _fit(path, n, lm.frame_rate, frames, window_frames, field)
    x = torch.from_numpy(wav[:, :n * hop])
    return backend(lm.backend).encode(lm, x)[..., :n].cpu()
