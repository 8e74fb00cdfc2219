"""Where ffmpeg is (the system's on PATH first, else the binary the imageio-ffmpeg wheel
ships), and the one way albumgen decodes a file with it."""
from __future__ import annotations

import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import AlbumgenError, InputError


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError:
        raise AlbumgenError("ffmpeg not found", "install ffmpeg, or `pip install imageio-ffmpeg`") from None
    return imageio_ffmpeg.get_ffmpeg_exe()


def configure_pydub():
    """pydub looks for `ffmpeg` on PATH only (and warns at import when it is not there);
    point it at ours and return its AudioSegment."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        from pydub import AudioSegment
    AudioSegment.converter = ffmpeg_exe()
    AudioSegment.ffmpeg = ffmpeg_exe()
    return AudioSegment


_STREAM = re.compile(r"Audio: .*?(\d+) Hz, (mono|stereo|(\d+) channels|[\w.()]+)")


def decode(path: Path, channels: int | None = None, error: type[AlbumgenError] = InputError
           ) -> tuple[np.ndarray, int]:
    """Decode the first audio stream to float32 (frames, channels) at the file's own rate.

    `channels` forces a channel count (ffmpeg down- or up-mixes); None keeps the file's.
    ffmpeg honours LAME's gapless header, so an MP3 decodes to exactly the frames that were
    encoded. `error` is what a failure raises: a user's file is an InputError, a file
    albumgen just wrote is the stage's own failure."""
    path = Path(path)
    probe = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    m = _STREAM.search(probe.stderr)
    if not m:
        raise error(f"{path}: not an audio file ffmpeg can read", "convert it to WAV or FLAC")
    sr = int(m.group(1))
    if channels is None:
        layout = m.group(2)
        channels = 1 if layout == "mono" else int(m.group(3)) if m.group(3) else 2
    out = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:a:0", "-f", "f32le",
                          "-acodec", "pcm_f32le", "-ac", str(channels), "-ar", str(sr), "-"], capture_output=True)
    if out.returncode != 0:
        raise error(f"{path}: ffmpeg could not decode it: {out.stderr.decode(errors='replace').strip()[-200:]}",
                    "check the file is complete")
    return np.frombuffer(out.stdout, dtype="<f4").reshape(-1, channels).copy(), sr
