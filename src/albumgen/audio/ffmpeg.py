"""Where ffmpeg is: the system's on PATH first, else the binary the imageio-ffmpeg wheel ships."""
from __future__ import annotations

import shutil
from functools import lru_cache

from ..errors import AlbumgenError


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
