"""Read any audio file into float32 (frames, channels); write WAVs atomically."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from ..engine.store import atomic
from ..errors import InputError
from ..inputs import check_file, resolve_audio
from .ffmpeg import decode
from .signal import to_mono  # noqa: F401  (its old home: the mono fold lives in signal.py)


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """Return float32 samples shaped (frames, channels) and the sample rate.

    soundfile reads wav/flac/ogg (and mp3 with libsndfile >= 1.1); anything it cannot
    read goes through ffmpeg, so every format ffmpeg knows works.
    """
    path = Path(path)
    # A FIFO would block libsndfile and ffmpeg forever; a folder or a loop gives odd errors.
    check_file(path, str(path), missing=(f"{path}: no such audio file", "check the path"))
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
        return data, sr
    except (sf.LibsndfileError, RuntimeError, TypeError):
        return decode(path)


def write_wav(path: Path, audio: np.ndarray, sr: int) -> None:
    """Atomically write (frames, channels) or (frames,) audio as 32-bit float WAV.

    scipy, not libsndfile: libsndfile adds a PEAK chunk with a timestamp to float WAVs, so
    the same take written twice would differ in bytes and a take's hash would depend on
    when it was rendered rather than on what it holds.
    """
    from scipy.io import wavfile

    with atomic.atomic_path(Path(path), need=audio.size * 4 + 1024) as tmp:
        wavfile.write(str(tmp), sr, np.ascontiguousarray(audio, dtype=np.float32))


def check_audio(base_dir: Path, rel: str, field: str) -> Path:
    """resolve_audio, then a full decode: a file that is not audio stops the build before any
    work (a model decodes it only once loaded, after prompts and maybe an LLM ran)."""
    path = resolve_audio(base_dir, rel, field)  # missing, FIFO, folder...
    try:
        read_audio(path)
    except InputError:
        raise InputError(f"{field}: {rel} is not audio ffmpeg can read", "convert it to WAV or FLAC") from None
    return path
