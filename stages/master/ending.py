"""Where a track ends: at a phrase boundary from the beat grid, cut or faded.

MusicGen stops where its token budget runs out, usually mid-phrase; render.tail renders a
few seconds past the asked duration so there is music to end on. Near the asked end this
looks at every tracked beat for the place a person would stop the tape: a beat where the
energy drops (the phrase ended, the band breathes). A clear drop is cut there; without
one the track fades out onto the beat nearest the asked end, or onto its last sample when
there is no beat grid to trust. Either way the last END_SILENCE of the track is digital
silence, so no track ends on a click or an MP3 frame's ringing.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

SEARCH_BEFORE = 8.0  # s before the asked end where an ending may fall
CLEAR_DIP_DB = 9.0  # a drop this deep after a beat is a phrase ending, not a quiet note
LOUD_BEFORE_DB = 12.0  # the beat before the boundary must be within this of the track's level
RELEASE = 0.15  # s: the longest release of a cut (a quarter beat when that is shorter)
END_SILENCE = 0.05  # s of digital silence that close every track (inside its length, not added)
_FRAME = 0.01  # s: energy frames


@dataclass
class Ending:
    kind: str  # "cut" or "fade"
    at: float  # s into the (trimmed) take where the music stops
    length: float  # s of release or fade before `at`
    why: str
    dip_db: float | None = None

    def record(self) -> dict:
        out = asdict(self)
        out["at"], out["length"] = round(self.at, 3), round(self.length, 3)
        out["dip_db"] = None if self.dip_db is None else round(self.dip_db, 2)
        return out


def _frame_db(audio: np.ndarray, sr: int) -> np.ndarray:
    frame = max(1, int(_FRAME * sr))
    n = len(audio) // frame
    x = np.asarray(audio[: n * frame], dtype=np.float64)
    x = x.reshape(n, frame, -1) if x.ndim == 2 else x.reshape(n, frame, 1)
    return 10 * np.log10(np.mean(x ** 2, axis=(1, 2)) + 1e-12)


def _span_db(level: np.ndarray, a: float, b: float) -> float:
    i, j = max(0, int(a / _FRAME)), max(int(a / _FRAME) + 1, int(b / _FRAME))
    part = level[i:j]
    return float(10 * np.log10(np.mean(10 ** (part / 10)))) if part.size else -120.0


def find(audio: np.ndarray, sr: int, beats: list[float], bpm: float | None, asked_end: float | None,
         mode: str, fade: float) -> Ending:
    """Choose the ending of `audio` ((frames, channels) at sr) for ending mode auto|fade|cut."""
    seconds = len(audio) / sr
    end = min(asked_end or seconds, seconds)
    if mode == "fade" or not bpm or len(beats) < 4:
        reason = "master.ending is fade" if mode == "fade" else "no steady beat to end on"
        return _fade(seconds, end, beats, fade, reason)
    beat = 60.0 / bpm
    level = _frame_db(audio, sr)
    track_db = _span_db(level, 0.0, seconds)
    lo, hi = max(seconds * 0.5, end - SEARCH_BEFORE), seconds - beat / 2
    best: tuple[float, float] | None = None
    for b in beats:
        if not lo <= b <= hi:
            continue
        before, after = _span_db(level, b - beat, b), _span_db(level, b, b + beat / 2)
        if before < track_db - LOUD_BEFORE_DB:
            continue  # already quiet: the phrase ended earlier
        dip = before - after
        # The deepest drop wins; between equal drops, the one nearest the asked end.
        score = (round(dip, 1), -abs(b - end))
        if best is None or score > (round(best[1], 1), -abs(best[0] - end)):
            best = (b, dip)
    if best is not None and (best[1] >= CLEAR_DIP_DB or mode == "cut"):
        b, dip = best
        clear = "a clear" if dip >= CLEAR_DIP_DB else "the best (not clear)"
        return Ending("cut", b, min(RELEASE, beat / 4),
                      f"{clear} phrase boundary at {b:.2f} s: the level drops {dip:.1f} dB after the beat", dip)
    why = "no phrase boundary near the end" if mode == "auto" else "master.ending is cut but no beat to cut on"
    return _fade(seconds, end, beats, fade, why)


def _fade(seconds: float, end: float, beats: list[float], fade: float, why: str) -> Ending:
    # A fade lands on the beat nearest the asked end when there is a grid; else the end.
    near = [b for b in beats if fade <= b <= seconds]
    at = min(near, key=lambda b: abs(b - end)) if near and why != "no steady beat to end on" else seconds
    return Ending("fade", at, min(fade, at), f"fade to {at:.2f} s: {why}")


def apply(audio: np.ndarray, sr: int, ending: Ending) -> np.ndarray:
    """Stop at `at`: a raised-cosine release (or fade) over the last `length` that reaches
    silence END_SILENCE before `at`, and silence from there. The track is no longer than
    `at`: padding would lower a short track's loudness and move every later track in a mix."""
    stop = min(len(audio), int(round(ending.at * sr)))
    out = np.array(audio[:stop], dtype=np.float32, copy=True)
    quiet = min(len(out), int(round(END_SILENCE * sr)))
    n = int(round(ending.length * sr))
    # The curve ends where the silence starts; a release too short to give up the silence
    # keeps its own length and moves earlier instead.
    n = min(len(out) - quiet, n - quiet if n >= 2 * quiet else n)
    if n > 0:
        curve = (0.5 + 0.5 * np.cos(np.linspace(0, np.pi, n, dtype=np.float32)))
        out[len(out) - quiet - n:len(out) - quiet] *= curve[:, None] if out.ndim == 2 else curve
    out[len(out) - quiet:] = 0.0
    return out
