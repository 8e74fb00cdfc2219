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


def intro_codes(lm, path: Path, frames: int, window_frames: int, field: str = "render.intro"):
    """Tokens (1, codebooks, n) of the intro, n whole frames, leaving room to continue."""
    import torch

    wav = load_reference(path, lm.sample_rate, lm.channels)
    hop = lm.sample_rate // lm.frame_rate
    n = wav.shape[1] // hop
    limit = min(frames, window_frames) - 1
    if n < 1:
        raise InputError(f"{field}: {path.name} is shorter than one frame", "use a longer intro")
    if n > limit:
        raise InputError(f"{field}: {path.name} is {n / lm.frame_rate:.2f} s, longer than the take "
                         f"({frames / lm.frame_rate:.2f} s) or window leaves room for",
                         "shorten the intro or raise render.duration")
    x = torch.from_numpy(wav[:, :n * hop])
    return backend(lm.backend).encode(lm, x)[..., :n].cpu()
