"""Read any audio file into float32 (frames, channels); write WAVs atomically."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from .. import atomic
from ..errors import InputError
from ..inputs import check_file
from .ffmpeg import ffmpeg_exe


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
        return _read_with_ffmpeg(path)


def _read_with_ffmpeg(path: Path) -> tuple[np.ndarray, int]:
    probe = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    import re

    m = re.search(r"Audio: .*?(\d+) Hz, (mono|stereo|(\d+) channels)", probe.stderr)
    if not m:
        raise InputError(f"{path}: not an audio file ffmpeg can read", "convert it to WAV or FLAC")
    sr = int(m.group(1))
    channels = 1 if m.group(2) == "mono" else 2 if m.group(2) == "stereo" else int(m.group(3))
    out = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "f32le", "-acodec", "pcm_f32le",
                          "-ac", str(channels), "-ar", str(sr), "-"], capture_output=True)
    if out.returncode != 0:
        raise InputError(f"{path}: ffmpeg could not decode it: {out.stderr.decode(errors='replace').strip()[-200:]}",
                         "check the file is complete")
    data = np.frombuffer(out.stdout, dtype="<f4").reshape(-1, channels).copy()
    return data, sr


def write_wav(path: Path, audio: np.ndarray, sr: int) -> None:
    """Atomically write (frames, channels) or (frames,) audio as 32-bit float WAV.

    scipy, not libsndfile: libsndfile adds a PEAK chunk with a timestamp to float WAVs, so
    the same take written twice would differ in bytes and a take's hash would depend on
    when it was rendered rather than on what it holds.
    """
    from scipy.io import wavfile

    with atomic.atomic_path(Path(path), need=audio.size * 4 + 1024) as tmp:
        wavfile.write(str(tmp), sr, np.ascontiguousarray(audio, dtype=np.float32))


def to_mono(audio: np.ndarray) -> np.ndarray:
    return audio.mean(axis=1) if audio.ndim == 2 else audio
