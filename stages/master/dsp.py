"""Edits before loudness: stereo, trim silence, fade in, the ending."""
from __future__ import annotations

import numpy as np

from . import ending
from .config import MasterConfig
from .ending import Ending

_FRAME = 0.01  # s: trim decides per 10 ms, so one stray sample does not count as music
_PAD = 0.01  # s kept before the first and after the last loud frame: attacks are not cut


def to_stereo(audio: np.ndarray) -> np.ndarray:
    """Mono takes become dual mono: a player sends mono to both speakers anyway, and
    BS.1770 only measures what it is given, so a mono file measured as one channel would
    play 3 dB louder than a stereo track at the same LUFS."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[:, None]
    if audio.shape[1] == 1:
        return np.repeat(audio, 2, axis=1)
    return audio[:, :2]


def trim_silence(audio: np.ndarray, sr: int, threshold_db: float) -> np.ndarray:
    """Cut leading and trailing frames quieter than threshold_db below the loudest frame.
    Relative, so a quiet take keeps its quiet intro."""
    start, end = music_span(audio, sr, threshold_db)
    return audio[start:end]


def music_span(audio: np.ndarray, sr: int, threshold_db: float) -> tuple[int, int]:
    """(first, past-the-last) frame of what trim_silence keeps."""
    frame = max(1, int(_FRAME * sr))
    n = len(audio) // frame * frame
    if n == 0:
        return 0, len(audio)
    level = np.abs(audio[:n]).max(axis=1).reshape(-1, frame).max(axis=1)
    top = level.max()
    if top <= 0:
        return 0, len(audio)
    loud = np.flatnonzero(level > top * 10 ** (threshold_db / 20))
    pad = int(_PAD * sr)
    return max(0, loud[0] * frame - pad), min(len(audio), (loud[-1] + 1) * frame + pad)


def fade(audio: np.ndarray, sr: int, fade_in: float, fade_out: float) -> np.ndarray:
    """Raised-cosine fades: no corner at either end, so no click."""
    audio = np.array(audio, dtype=np.float32, copy=True)
    n_in = min(len(audio), int(round(fade_in * sr)))
    n_out = min(len(audio), int(round(fade_out * sr)))
    if n_in:
        audio[:n_in] *= (0.5 - 0.5 * np.cos(np.linspace(0, np.pi, n_in, dtype=np.float32)))[:, None]
    if n_out:
        audio[len(audio) - n_out:] *= (0.5 + 0.5 * np.cos(np.linspace(0, np.pi, n_out, dtype=np.float32)))[:, None]
    return audio



def prepare(audio: np.ndarray, sr: int, cfg: MasterConfig, music: dict | None = None) -> tuple[np.ndarray, Ending]:
    """Stereo, trimmed, faded in and ended (ending.py), at the take's own rate: what
    loudness analysis reads. `music` is the sequence stage's analysis of the take (its
    beats, bpm and the asked end), times from the take's first sample."""
    music = music or {}
    audio = to_stereo(audio)
    start = 0
    if cfg.trim:
        start, stop = music_span(audio, sr, cfg.trim_db)
        audio = audio[start:stop]
    shift = start / sr
    asked = music.get("asked_end")
    chosen = ending.find(audio, sr, [b - shift for b in music.get("beats", [])], music.get("bpm"),
                         asked - shift if asked else None, cfg.ending, cfg.fade_out)
    return ending.apply(fade(audio, sr, cfg.fade_in, 0.0), sr, chosen), chosen
