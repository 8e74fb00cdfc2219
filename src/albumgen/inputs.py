"""Reading the files a user points albumgen at, whatever they turn out to be.

A path in a pipeline can name a folder, a FIFO (which would block a plain read forever),
a symlink loop, a device, a file of gigabytes or a binary posing as text. Every reader
of such a path goes through here, so each of those ends in one clear error before a
single byte is trusted, and a FIFO is never opened for a blocking read.
"""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from .errors import AlbumgenError, InputError
from .sizes import MB, human_size


def _kind(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder, not a file"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe), not a regular file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a regular file"
    return "a device, not a regular file"


def check_file(path: Path, what: str, error: type[AlbumgenError] = InputError, max_bytes: int | None = None,
               missing: tuple[str, str] | None = None, fix: str = "point it at a regular file") -> os.stat_result:
    """stat `path` and refuse anything but a readable regular file of at most `max_bytes`.

    `what` names the file in the message ("prompts.file: p.csv"); `missing` overrides the
    (what, fix) said when it does not exist, for callers with a better hint."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if missing:
            raise error(*missing) from None
        raise error(f"{what} not found", "check the path") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise error(f"{what} is a symlink loop", "point it at a real file") from None
        raise error(f"{what} cannot be read: {e.strerror}", "check the path and its permissions") from None
    kind = _kind(st.st_mode)
    if kind:
        raise error(f"{what} is {kind}", fix)
    if max_bytes is not None and st.st_size > max_bytes:
        raise error(f"{what} is {human_size(st.st_size)}, more than the {human_size(max_bytes)} albumgen reads",
                    "check it is the right file")
    return st


def read_bytes(path: Path, what: str, error: type[AlbumgenError] = InputError, max_bytes: int = 16 * MB,
               missing: tuple[str, str] | None = None) -> bytes:
    check_file(path, what, error, max_bytes, missing)
    try:
        # O_NONBLOCK: if the path became a FIFO after the stat, open and read return at once.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise error(f"{what} cannot be read: {e.strerror}", "check the file's permissions") from None
    try:
        if _kind(os.fstat(fd).st_mode):
            raise error(f"{what} is {_kind(os.fstat(fd).st_mode)}", "point it at a regular file")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > max_bytes:  # it grew after the stat
                raise error(f"{what} is more than the {human_size(max_bytes)} albumgen reads",
                            "check it is the right file")
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as e:
        raise error(f"{what} cannot be read: {e.strerror}", "check the file") from None
    finally:
        os.close(fd)


def decode_text(data: bytes, what: str, error: type[AlbumgenError] = InputError,
                fix: str = "save it as UTF-8 text") -> str:
    """UTF-8 (with or without a BOM) or BOM-marked UTF-16, as text editors and spreadsheet
    exports write them; anything else is refused rather than guessed at, so random bytes
    never become titles, prompts or config values."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise error(f"{what} is not text: it starts like UTF-16 but does not decode", fix) from None
    else:
        if b"\x00" in data:
            raise error(f"{what} is not text: it holds NUL bytes (a binary file, or UTF-16 without a BOM)", fix)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise error(f"{what} is not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})", fix) from None
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f\v")
    if controls > max(2, len(text) // 100):
        raise error(f"{what} is not text: it holds {controls} control characters", fix)
    return text


def read_text(path: Path, what: str, error: type[AlbumgenError] = InputError, max_bytes: int = 16 * MB,
              missing: tuple[str, str] | None = None, fix: str = "save it as UTF-8 text") -> str:
    return decode_text(read_bytes(path, what, error, max_bytes, missing), what, error, fix)


def read_optional_text(path: Path, what: str, error: type[AlbumgenError] = InputError,
                       max_bytes: int = 16 * MB, fix: str = "save it as UTF-8 text") -> str | None:
    """Like read_text, but None when the file does not exist (a symlink loop is not 'missing')."""
    if not os.path.lexists(path):
        return None
    try:
        os.stat(path)
    except FileNotFoundError:  # a dangling symlink: nothing there
        return None
    except OSError:
        pass  # read_text says what is wrong
    return read_text(path, what, error, max_bytes, fix=fix)


MAX_AUDIO_BYTES = 512 * MB  # an intro or melody of minutes as WAV is tens of MB


def resolve_audio(base_dir: Path, rel: str, field: str) -> Path:
    """An audio file the pipeline (or its prompts) names, relative to the pipeline file like
    every path in it."""
    path = (base_dir / rel).expanduser()
    # Checked before resolve(), which raises on a symlink loop; a FIFO or folder is refused.
    check_file(path, f"{field}: {rel}", max_bytes=MAX_AUDIO_BYTES,
               missing=(f"{field}: {rel} not found (looked in {Path(os.path.normpath(path)).parent})",
                        "check the path; it is relative to the pipeline file"))
    return path.resolve()
