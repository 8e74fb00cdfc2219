"""The album's own files: an .m3u8 playlist and album.json."""
from __future__ import annotations

from pathlib import Path

from albumgen.engine.store import atomic

from .tags import clean_text


def write_playlist(path: Path, meta: dict, tracks: list[dict]) -> None:
    # Relative names, UTF-8 (that is what the 8 in m3u8 says), one #EXTINF per entry.
    # Titles lose control characters: a newline in one would start a new playlist entry.
    lines = ["#EXTM3U", f"#PLAYLIST:{clean_text(meta['album'])}"]
    for t in tracks:
        lines += [f"#EXTINF:{round(t['duration'])},{clean_text(meta['artist'])} - {clean_text(t['title'])}", t["file"]]
    atomic.write_text(path, "\n".join(lines) + "\n")


def write_album_json(path: Path, meta: dict, cfg, tracks: list[dict], order: dict, mix: dict | None) -> None:
    keep = ("n", "id", "title", "file", "duration", "prompt", "seed", "model", "revision", "take", "score",
            "loudness", "true_peak", "replaygain", "key", "camelot", "bpm", "energy", "ending", "order_why")
    atomic.write_json(path, {
        "album": meta["album"], "artist": meta["artist"], "album_artist": meta["album_artist"],
        "year": meta["year"], "genre": meta["genre"], "disc": cfg.disc, "discs": cfg.discs,
        "duration": round(sum(t["duration"] for t in tracks), 3),
        "mastering": {"loudness": cfg.loudness, "true_peak": cfg.true_peak, "album_mode": cfg.album_mode,
                      "format": cfg.format, "bitrate": cfg.bitrate if cfg.format == "mp3" else None,
                      "sample_rate": cfg.sample_rate, "ending": cfg.ending},
        "order": order,
        "mix": mix,
        "tracklist": [{k: t.get(k) for k in keep} for t in tracks],
    })
