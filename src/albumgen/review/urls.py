"""Where the page's links point, one class per way the page is seen:

- LiveUrls: the served page; every link carries the token.
- ExportUrls: one HTML file beside the album folder; audio linked by relative path into
  it, pictures inline. Works where it sits, not when sent alone.
- FolderUrls: a folder to zip and send; audio and pictures copied into it (takes as MP3).
- EmbedUrls: one HTML file to send; audio (takes as MP3) and pictures inline.

The sharing kinds make their files as the page asks for them, once each.
"""
from __future__ import annotations

import base64
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from ..audio.ffmpeg import ffmpeg_exe
from ..engine.store import atomic
from ..errors import OutputError

TAKE_BITRATE = "160k"  # a shared take is for listening, not for mastering again
MIME = {".mp3": "audio/mpeg", ".wav": "audio/wav", ".flac": "audio/flac", ".ogg": "audio/ogg",
        ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}

Picture = Callable[[str, str], Path]  # (kind, unit) -> the cached PNG


class LiveUrls:
    """Links for the served page: every one carries the token."""

    live = True

    def __init__(self, token: str):
        self.q = f"token={quote(token)}"

    def file(self, rel: str) -> str:
        return f"/files/{quote(rel)}?{self.q}"

    def picture(self, kind: str, unit: str, sha256: str | None) -> str:
        return f"/picture/{kind}/{quote(unit)}.png?h={(sha256 or '')[:16]}&{self.q}"

    def track(self, tid: str) -> str:
        return f"/track/{quote(tid)}?{self.q}"

    def album(self) -> str:
        return f"/?{self.q}"

    def static(self, name: str) -> str:
        return f"/static/{name}?{self.q}"


class ExportUrls:
    """Links for a report beside the album: audio by relative path into the album folder,
    pictures inline, so the file and the album folder travel together."""

    live = False

    def __init__(self, album_dir: Path, out_dir: Path, picture: Picture):
        self.album_dir = Path(album_dir)
        self.prefix = Path(os.path.relpath(album_dir, out_dir)).as_posix()
        self.make_picture = picture

    def file(self, rel: str) -> str:
        return quote(f"{self.prefix}/{rel}" if self.prefix != "." else rel)

    def picture(self, kind: str, unit: str, sha256: str | None) -> str:
        return _data_uri(self.make_picture(kind, unit).read_bytes(), "image/png")

    def track(self, tid: str) -> str:
        return f"#{quote(tid)}"

    def album(self) -> str:
        return "#album"


class FolderUrls(ExportUrls):
    """A folder that works anywhere: index.html, audio/ and pictures/ beside it."""

    def __init__(self, album_dir: Path, out_dir: Path, picture: Picture):
        super().__init__(album_dir, out_dir, picture)
        self.out = Path(out_dir)
        self.made: dict[str, str] = {}

    def file(self, rel: str) -> str:
        if rel not in self.made:
            src = self.album_dir / rel
            name = _shared_name(rel)
            if src.suffix.lower() == ".wav":
                _to_mp3(src, self.out / "audio" / name)
            else:
                _copy(src, self.out / "audio" / name)
            self.made[rel] = f"audio/{quote(name)}"
        return self.made[rel]

    def picture(self, kind: str, unit: str, sha256: str | None) -> str:
        name = f"{kind}-{unit.replace('/', '-')}.png"
        _copy(self.make_picture(kind, unit), self.out / "pictures" / name)
        return f"pictures/{quote(name)}"


class EmbedUrls(ExportUrls):
    """One file to send: every picture and every sound inside it (takes as MP3)."""

    def __init__(self, album_dir: Path, out_dir: Path, picture: Picture, scratch: Path):
        super().__init__(album_dir, out_dir, picture)
        self.scratch = Path(scratch)

    def file(self, rel: str) -> str:
        src = self.album_dir / rel
        if src.suffix.lower() == ".wav":
            mp3 = self.scratch / _shared_name(rel)
            _to_mp3(src, mp3)
            src = mp3
        return _data_uri(src.read_bytes(), MIME.get(src.suffix.lower(), "application/octet-stream"))


def _shared_name(rel: str) -> str:
    """One flat, unique file name per album file: takes/t01/take-2.wav -> t01-take-2.mp3."""
    parts = Path(rel).parts
    stem = "-".join(parts[-2:]) if parts[0] == "manifest" else parts[-1]
    stem = stem.rsplit(".", 1)[0] if stem.lower().endswith(".wav") else stem
    return stem + ".mp3" if rel.lower().endswith(".wav") else stem


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(dst, need=src.stat().st_size) as tmp:
        shutil.copyfile(src, tmp)


def _to_mp3(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(dst) as tmp:
        res = subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(src), "-codec:a", "libmp3lame",
                              "-b:a", TAKE_BITRATE, "-f", "mp3", str(tmp)], capture_output=True, text=True)
        if res.returncode != 0:
            raise OutputError(f"cannot encode {src.name} for the export: {res.stderr.strip()[-200:]}",
                              "check the disk space where the export goes")
