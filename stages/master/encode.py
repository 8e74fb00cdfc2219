"""MP3 through pydub over ffmpeg, tags through mutagen."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from albumgen import atomic
from albumgen.audio.ffmpeg import configure_pydub


def encode_mp3(path: Path, audio: np.ndarray, sr: int, bitrate: str) -> None:
    AudioSegment = configure_pydub()
    pcm = (np.clip(audio, -1, 1) * 32767).round().astype("<i2")
    seg = AudioSegment(pcm.tobytes(), frame_rate=sr, sample_width=2, channels=pcm.shape[1])
    with atomic.atomic_path(path) as tmp:
        seg.export(str(tmp), format="mp3", bitrate=bitrate, parameters=["-write_xing", "1"])


def tag_mp3(path: Path, tags: dict, cover_jpeg: bytes | None) -> None:
    from mutagen.id3 import APIC, COMM, ID3, TALB, TCON, TDRC, TIT2, TPE1, TPE2, TRCK, TXXX

    # Tag a copy and swap it in, so a crash mid-write never leaves a half-tagged file.
    with atomic.atomic_path(path) as tmp:
        tmp.write_bytes(path.read_bytes())
        id3 = ID3()
        id3.add(TIT2(encoding=3, text=tags["title"]))
        id3.add(TPE1(encoding=3, text=tags["artist"]))
        id3.add(TALB(encoding=3, text=tags["album"]))
        id3.add(TPE2(encoding=3, text=tags["album_artist"]))
        id3.add(TRCK(encoding=3, text=f"{tags['track']}/{tags['tracks']}"))
        id3.add(TDRC(encoding=3, text=str(tags["year"])))
        id3.add(TCON(encoding=3, text=tags["genre"]))
        id3.add(COMM(encoding=3, lang="eng", desc="", text=tags["prompt"]))
        for k in ("seed", "model", "take", "score"):
            id3.add(TXXX(encoding=3, desc=f"albumgen_{k}", text=str(tags[k])))
        if cover_jpeg:
            id3.add(APIC(encoding=3, mime="image/jpeg", type=3, desc="Cover", data=cover_jpeg))
        id3.save(str(tmp), v2_version=4)
