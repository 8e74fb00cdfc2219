"""Encoding through pydub over ffmpeg, and decoding back to check what a player will hear."""
from __future__ import annotations

import errno
import os
import re
import signal
from pathlib import Path

import numpy as np

from albumgen.audio import ffmpeg
from albumgen.audio.ffmpeg import configure_pydub
from albumgen.errors import StageError

_INT32 = 2 ** 31


def encode(path: Path, audio: np.ndarray, sr: int, fmt: str, bitrate: str) -> None:
    """Write (frames, channels) float audio as MP3 or FLAC to `path` (no tags).

    The PCM handed to ffmpeg is 32-bit: LAME and the FLAC encoder take it as is, so
    nothing is truncated to 16 bits (and needs dither) before the encoder.
    """
    AudioSegment = configure_pydub()
    pcm = np.round(np.clip(audio, -1.0, 1.0 - 1 / _INT32) * _INT32).astype("<i4")
    seg = AudioSegment(pcm.tobytes(), frame_rate=sr, sample_width=4, channels=pcm.shape[1])
    # No ID3/Vorbis tags from ffmpeg: mutagen writes the only tag. The Xing/LAME header
    # carries the encoder delay and padding, so decoders give back exactly our frames.
    params = ["-map_metadata", "-1"]
    if fmt == "mp3":
        params += ["-write_xing", "1", "-id3v2_version", "0"]
        if bitrate == "V0":
            params += ["-q:a", "0"]
        kwargs = {"codec": "libmp3lame"} if bitrate == "V0" else {"codec": "libmp3lame", "bitrate": bitrate}
    else:
        params += ["-sample_fmt", "s32", "-bits_per_raw_sample", "24", "-compression_level", "8"]
        kwargs = {"codec": "flac"}
    try:
        seg.export(str(path), format=fmt, parameters=params, **kwargs)
    except Exception as e:  # pydub raises CouldntEncodeError with ffmpeg's whole stderr
        full = _disk_full(str(e))
        if full:  # the disk, not the encoder: atomic_path turns it into the output error (exit 7)
            raise OSError(full, os.strerror(full), str(path)) from e
        raise StageError(f"ffmpeg could not encode {Path(path).name}: {str(e).strip()[-300:]}",
                         "check that the ffmpeg build has libmp3lame") from e


def _disk_full(message: str) -> int | None:
    """The errno behind an ffmpeg failure that was a full disk or a file size limit (ffmpeg
    then dies of SIGXFSZ, which subprocess restores to its default)."""
    if "No space left on device" in message:
        return errno.ENOSPC
    if "Disk quota exceeded" in message:
        return errno.EDQUOT
    if "File too large" in message or re.search(rf"error code: -{int(signal.SIGXFSZ)}\b", message):
        return errno.EFBIG
    return None


def decode(path: Path) -> tuple[np.ndarray, int]:
    """What a player will hear: the front end's decode, as stereo float."""
    return ffmpeg.decode(path, channels=2, error=StageError)
