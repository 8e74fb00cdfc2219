"""Tags through mutagen: ID3v2.4 for MP3, Vorbis comments and a PICTURE block for FLAC."""
from __future__ import annotations

import io
import re
from pathlib import Path

# ID3v2.4 separates multiple values with NUL, and a newline in a title breaks playlists
# and one-line displays: tag text gets neither.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
RG_REFERENCE = -18.0  # ReplayGain 2.0 reference loudness, LUFS


def clean_text(text) -> str:
    return re.sub(r" +", " ", _CONTROL.sub(" ", str(text))).strip()


def clean_lyrics(text) -> str:
    """Lyrics keep their lines (USLT and LYRICS are multi-line by design); only other
    control characters go."""
    lines = (clean_text(line) for line in str(text).replace("\r\n", "\n").split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def replaygain(loudness: float, peak_db: float) -> tuple[str, str]:
    """(gain, peak) as ReplayGain 2.0 writes them: "-4.00 dB" and a linear "0.891251"."""
    return f"{RG_REFERENCE - loudness:+.2f} dB", f"{10 ** (peak_db / 20):.6f}"


def fields(tags: dict) -> dict[str, str]:
    """The free-form fields both formats carry, keyed by their Vorbis/TXXX names."""
    out = {"albumgen_seed": tags.get("seed"), "albumgen_model": tags.get("model"),
           "albumgen_revision": tags.get("revision"), "albumgen_take": tags.get("take"),
           "albumgen_score": tags.get("score")}
    rg = tags.get("replaygain") or {}
    for key in ("track_gain", "track_peak", "album_gain", "album_peak"):
        if rg.get(key) is not None:
            out[f"REPLAYGAIN_{key.upper()}"] = rg[key]
    return {k: clean_text(v) for k, v in out.items() if v is not None and v != ""}


def music_tags(tags: dict) -> tuple[str | None, str | None]:
    """TKEY as ID3 spells it ("F#m": at most 3 characters, m for minor) and TBPM as a whole
    number, from the sequence stage's estimates; None where there is none."""
    from albumgen.audio.music import initial_key_tag

    key = initial_key_tag(tags["key"]) if tags.get("key") else None
    bpm = str(int(round(tags["bpm"]))) if tags.get("bpm") else None
    return key, bpm


def tag_mp3(path: Path, tags: dict, cover_jpeg: bytes | None) -> None:
    from mutagen.id3 import (
        APIC,
        COMM,
        ID3,
        TALB,
        TBPM,
        TCON,
        TDRC,
        TIT2,
        TKEY,
        TPE1,
        TPE2,
        TPOS,
        TRCK,
        TSSE,
        TXXX,
        USLT,
    )

    id3 = ID3()
    id3.add(TIT2(encoding=3, text=clean_text(tags["title"])))
    id3.add(TPE1(encoding=3, text=clean_text(tags["artist"])))
    id3.add(TALB(encoding=3, text=clean_text(tags["album"])))
    id3.add(TPE2(encoding=3, text=clean_text(tags["album_artist"])))
    id3.add(TRCK(encoding=3, text=f"{tags['track']}/{tags['tracks']}"))
    id3.add(TPOS(encoding=3, text=f"{tags['disc']}/{tags['discs']}"))
    id3.add(TDRC(encoding=3, text=str(tags["year"])))
    id3.add(TCON(encoding=3, text=clean_text(tags["genre"])))
    id3.add(TSSE(encoding=3, text="albumgen (LAME via ffmpeg)"))
    id3.add(COMM(encoding=3, lang="eng", desc="", text=clean_text(tags["prompt"])))
    key, bpm = music_tags(tags)
    if key:
        id3.add(TKEY(encoding=3, text=key))
    if bpm:
        id3.add(TBPM(encoding=3, text=bpm))
    if tags.get("lyrics"):  # unsynchronised lyrics: what players show under "Lyrics"
        id3.add(USLT(encoding=3, lang=id3_language(tags.get("language")), desc="", text=clean_lyrics(tags["lyrics"])))
    for desc, value in fields(tags).items():
        id3.add(TXXX(encoding=3, desc=desc, text=value))
    if cover_jpeg:
        id3.add(APIC(encoding=3, mime="image/jpeg", type=3, desc="Cover", data=cover_jpeg))
    id3.save(str(path), v2_version=4, v1=0)


def tag_flac(path: Path, tags: dict, cover_jpeg: bytes | None) -> None:
    from mutagen.flac import FLAC, Picture

    f = FLAC(str(path))
    f.clear()
    f.clear_pictures()
    f["TITLE"] = clean_text(tags["title"])
    f["ARTIST"] = clean_text(tags["artist"])
    f["ALBUM"] = clean_text(tags["album"])
    f["ALBUMARTIST"] = clean_text(tags["album_artist"])
    f["TRACKNUMBER"], f["TRACKTOTAL"] = str(tags["track"]), str(tags["tracks"])
    f["DISCNUMBER"], f["DISCTOTAL"] = str(tags["disc"]), str(tags["discs"])
    f["DATE"] = str(tags["year"])
    f["GENRE"] = clean_text(tags["genre"])
    f["COMMENT"] = clean_text(tags["prompt"])
    key, bpm = music_tags(tags)
    if key:  # the Vorbis names Picard and foobar2000 map TKEY and TBPM to
        f["KEY"] = key
    if bpm:
        f["BPM"] = bpm
    if tags.get("lyrics"):
        f["LYRICS"] = clean_lyrics(tags["lyrics"])
    for key, value in fields(tags).items():
        f[key.upper()] = value
    if cover_jpeg:
        from PIL import Image

        pic = Picture()
        pic.type, pic.mime, pic.desc, pic.data = 3, "image/jpeg", "Cover", cover_jpeg
        with Image.open(io.BytesIO(cover_jpeg)) as img:
            pic.width, pic.height, pic.depth = img.width, img.height, 24
        f.add_picture(pic)
    f.save()


# ID3 names a lyric's language with ISO 639-2 (three letters); album.language is usually two.
_ISO639_2 = {"en": "eng", "de": "deu", "fr": "fra", "es": "spa", "it": "ita", "pt": "por", "nl": "nld", "ja": "jpn",
             "zh": "zho", "ko": "kor", "ru": "rus", "pl": "pol", "sv": "swe", "tr": "tur", "ar": "ara", "hi": "hin"}


def id3_language(code: str | None) -> str:
    base = (code or "en").split("-")[0].lower()
    return base if len(base) == 3 else _ISO639_2.get(base, "XXX")  # XXX: ID3's "unknown language"


def tag_file(path: Path, fmt: str, tags: dict, cover_jpeg: bytes | None) -> None:
    from mutagen import MutagenError

    try:
        (tag_mp3 if fmt == "mp3" else tag_flac)(path, tags, cover_jpeg)
    except MutagenError as e:
        # mutagen wraps the OSError of a full disk in its own error: hand the OSError on, so
        # the atomic write it happens in reports the disk (exit 7), not a bug.
        cause = next((c for c in (*e.args[:1], e.__cause__, e.__context__) if isinstance(c, OSError)), None)
        if cause is not None:
            raise cause from None
        raise
