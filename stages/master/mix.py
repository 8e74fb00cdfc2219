"""The continuous mix: every mastered track in running order, crossfaded, levelled as one
programme, with a .cue sheet that marks where each track starts.

Crossfades are tempo-aware: `master.crossfade` seconds rounded to whole beats of the
outgoing track (at least one), so the next track comes in on that track's grid; a track
with no steady beat gets the plain seconds. The fades are equal-power (sine and cosine), so
two unrelated tracks keep a constant loudness across the join.
"""
from __future__ import annotations

import numpy as np

from .tags import clean_text, replaygain

CD_FRAMES = 75  # a cue sheet counts in CD frames: 75 per second
# Part of the mix unit's key: a change to how the mix is tagged re-tags (re-makes) the mix
# and nothing else.
TAGS_VERSION = 2


def crossfade_seconds(crossfade: float, bpm: float | None) -> float:
    if crossfade <= 0:
        return 0.0
    if not bpm:
        return crossfade
    beat = 60.0 / bpm
    return max(1, round(crossfade / beat)) * beat


def assemble(tracks: list[np.ndarray], sr: int, fades: list[float]) -> tuple[np.ndarray, list[int]]:
    """(frames, 2) tracks joined with fades[k] seconds of crossfade between track k and k+1
    (never more than a third of either); returns the mix and each track's first frame in it."""
    mix = np.asarray(tracks[0], dtype=np.float32)
    starts = [0]
    for prev, nxt, seconds in zip(tracks, tracks[1:], fades):
        n = int(round(seconds * sr))
        n = max(0, min(n, len(prev) // 3, len(nxt) // 3))
        start = len(mix) - n
        out = np.zeros((start + len(nxt), mix.shape[1]), dtype=np.float32)
        out[:len(mix)] = mix
        incoming = np.array(nxt, dtype=np.float32, copy=True)
        if n:
            theta = np.linspace(0.0, np.pi / 2, n, dtype=np.float32)[:, None]
            out[start:len(mix)] *= np.cos(theta)
            incoming[:n] *= np.sin(theta)
        out[start:] += incoming
        mix = out
        starts.append(start)
    return mix, starts


def cue_time(frame: int, sr: int) -> str:
    """mm:ss:ff in CD frames, rounded to the nearest frame."""
    total = int(round(frame / sr * CD_FRAMES))
    return f"{total // (60 * CD_FRAMES):02d}:{total // CD_FRAMES % 60:02d}:{total % CD_FRAMES:02d}"


def cue_sheet(mix_file: str, fmt: str, meta: dict, titles: list[str], starts: list[int], sr: int) -> str:
    def q(text) -> str:  # cue strings are double-quoted and cannot escape a quote
        return '"' + clean_text(text).replace('"', "'") + '"'

    lines = [f"PERFORMER {q(meta['artist'])}", f"TITLE {q(meta['album'])}",
             f"FILE {q(mix_file)} {'MP3' if fmt == 'mp3' else 'WAVE'}"]
    for n, (title, start) in enumerate(zip(titles, starts), 1):
        lines += [f"  TRACK {n:02d} AUDIO", f"    TITLE {q(title)}", f"    PERFORMER {q(meta['artist'])}",
                  f"    INDEX 01 {cue_time(start, sr)}"]
    return "\n".join(lines) + "\n"


def release_title(album: str) -> str:
    return f"{album} (continuous mix)"


def mix_tags(meta: dict, tracks: int, measured: dict) -> dict:
    """The mix's tags: a release of its own, "<album> (continuous mix)", track 1 of 1.

    Tagged with the album's own title it would show in a music library as a second "track 1"
    of the album. Its ReplayGain comes from its own measured loudness and true peak; it is
    the whole release, so its album values are its track values.
    """
    title = release_title(meta["album"])
    tags = {**meta, "title": title, "album": title, "track": 1, "tracks": 1, "disc": 1, "discs": 1,
            "prompt": f"continuous mix of the {tracks} tracks of {meta['album']}"}
    if measured.get("loudness") is not None and measured.get("true_peak") is not None:
        gain, peak = replaygain(measured["loudness"], measured["true_peak"])
        tags["replaygain"] = {"track_gain": gain, "track_peak": peak, "album_gain": gain, "album_peak": peak}
    return tags


def mix_name(album: str, ext: str) -> str:
    from albumgen.naming import safe_filename

    return safe_filename(release_title(album)) + f".{ext}"
