"""Pictures for the review page: a take's waveform over its spectrogram, a mastered track's
loudness over time. numpy draws, pillow encodes the PNG.

Each picture is a keyed artifact, as a unit's output is: its name is the sha256 of the
audio file's hash, the kind and VERSION, so it is made once and a reopened page reads it
from disk. Bump VERSION when the drawing changes, and every picture is made again.
"""
from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..audio.io import read_audio
from ..audio.loudness import k_weight
from ..audio.signal import to_mono
from ..engine.store import atomic
from ..engine.store.hashing import sha256_file, sha256_json

VERSION = "1"
CACHE = "manifest/review"  # inside the album folder, beside what it pictures
WIDTH = 800
WAVE_H, SPEC_H = 56, 150
LOUD_H = 120
LOUD_RANGE = (-36.0, 0.0)  # LUFS shown; the target (-14 by default) sits well inside
FREQ_RANGE = (40.0, 16000.0)
DB_RANGE = 80.0  # spectrogram dynamic range under its loudest bin

# A dark-to-bright palette (black, violet, red, orange, pale yellow) for the spectrogram.
_ANCHORS = np.array([[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66],
                     [245, 125, 21], [250, 193, 39], [252, 255, 164]], dtype=np.float32)
_LUT = np.stack([np.interp(np.linspace(0, 1, 256), np.linspace(0, 1, len(_ANCHORS)), _ANCHORS[:, c])
                 for c in range(3)], axis=1).astype(np.uint8)
_BG = np.array([17, 17, 24], dtype=np.uint8)
_WAVE = np.array([120, 200, 255], dtype=np.uint8)

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def picture_key(kind: str, audio_sha256: str) -> str:
    return sha256_json({"kind": kind, "version": VERSION, "audio": audio_sha256})


def cached_picture(album_dir: Path, kind: str, audio_rel: str, audio_sha256: str | None = None) -> Path:
    """The picture's path in the cache, made first if it is not there. `audio_sha256` is the
    hash the manifest recorded for the file (hashed here when not given)."""
    audio = Path(album_dir) / audio_rel
    key = picture_key(kind, audio_sha256 or sha256_file(audio))
    path = Path(album_dir) / CACHE / f"{kind}-{key}.png"
    if path.exists():
        return path
    # One maker per picture: the browser asks for several at once, and atomic's temporary
    # name is per process, not per thread.
    with _locks_guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:
        if not path.exists():
            draw = {"take": take_png, "master": loudness_png}[kind]
            atomic.write_bytes(path, draw(audio))
    return path


def prune(album_dir: Path, live: list[tuple[str, str]]) -> int:
    """Remove cached pictures of audio the album no longer has (re-rendered or pruned takes,
    re-mastered tracks, an older VERSION); `live` is (kind, audio sha256) of what it has.
    Returns how many went. A picture drawn meanwhile for new audio is kept or, at worst,
    drawn again when asked for."""
    keep = {f"{kind}-{picture_key(kind, sha)}.png" for kind, sha in live}
    gone = 0
    for path in (Path(album_dir) / CACHE).glob("*.png"):
        if path.name not in keep and not path.name.startswith("."):
            path.unlink(missing_ok=True)
            gone += 1
    return gone


def take_png(audio_path: Path) -> bytes:
    """Waveform (min/max per column) above a log-frequency spectrogram."""
    audio, sr = read_audio(audio_path)
    mono = to_mono(audio).astype(np.float32)
    img = np.empty((WAVE_H + SPEC_H, WIDTH, 3), dtype=np.uint8)
    img[:WAVE_H] = _BG
    _draw_wave(img[:WAVE_H], mono)
    img[WAVE_H:] = _LUT[_spectrogram(mono, sr)]
    return _png(Image.fromarray(img))


def loudness_png(audio_path: Path) -> bytes:
    """Momentary (400 ms) and short-term (3 s) loudness over time, as BS.1770 measures them,
    over a faint waveform; the dashed line is the integrated loudness."""
    audio, sr = read_audio(audio_path)
    momentary, short, integrated = _loudness_curves(audio, sr)
    img = np.empty((LOUD_H, WIDTH, 3), dtype=np.uint8)
    img[:] = _BG
    _draw_wave(img, to_mono(audio).astype(np.float32), colour=np.array([45, 60, 80], dtype=np.uint8))
    pic = Image.fromarray(img)
    draw = ImageDraw.Draw(pic)
    lo, hi = LOUD_RANGE
    for db in range(int(hi), int(lo) - 1, -6):
        y = _y(db)
        draw.line([(0, y), (WIDTH, y)], fill=(48, 48, 60))
        draw.text((3, y + 1), f"{db}", fill=(110, 110, 130))
    if integrated is not None:
        y = _y(integrated)
        for x in range(0, WIDTH, 12):
            draw.line([(x, y), (x + 6, y)], fill=(250, 193, 39))
    draw.line(_points(momentary), fill=(90, 140, 200), width=1)
    draw.line(_points(short), fill=(130, 230, 160), width=2)
    return _png(pic)


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def _columns(n: int) -> np.ndarray:
    """Sample index where each of WIDTH columns starts (n samples spread over the width)."""
    return (np.arange(WIDTH + 1) * max(n, 1) / WIDTH).astype(np.int64)


def _draw_wave(area: np.ndarray, mono: np.ndarray, colour: np.ndarray = _WAVE) -> None:
    h = area.shape[0]
    if len(mono) == 0:
        return
    edges = _columns(len(mono))
    peak = float(np.max(np.abs(mono))) or 1.0
    # reduceat gives each column's min and max in one pass over the samples.
    starts = np.minimum(edges[:-1], len(mono) - 1)
    hi = np.maximum.reduceat(mono, starts) / peak
    lo = np.minimum.reduceat(mono, starts) / peak
    mid = (h - 1) / 2
    top = np.clip(np.round(mid - hi * mid), 0, h - 1).astype(int)
    bottom = np.clip(np.round(mid - lo * mid), 0, h - 1).astype(int)
    rows = np.arange(h)[:, None]
    area[(rows >= top[None, :]) & (rows <= bottom[None, :])] = colour


def _spectrogram(mono: np.ndarray, sr: int) -> np.ndarray:
    """(SPEC_H, WIDTH) palette indices: one Hann-windowed FFT per column, log-frequency
    rows from FREQ_RANGE, dB under the loudest bin; low frequencies at the bottom."""
    n_fft = 2048 if sr > 24000 else 1024
    # Mirrored edges: zeros there would read as a click and paint the first and last
    # columns bright at every frequency.
    mode = "reflect" if len(mono) > n_fft else "constant"
    padded = np.pad(mono, (n_fft // 2, n_fft), mode=mode)
    centres = (_columns(len(mono))[:-1] + _columns(len(mono))[1:]) // 2
    frames = padded[centres[:, None] + np.arange(n_fft)[None, :]] * np.hanning(n_fft).astype(np.float32)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2  # (WIDTH, bins)
    top = min(FREQ_RANGE[1], sr / 2)
    freqs = np.geomspace(FREQ_RANGE[0], top, SPEC_H)
    bins = freqs * n_fft / sr
    lo = np.floor(bins).astype(int)
    frac = (bins - lo).astype(np.float32)
    hi = np.minimum(lo + 1, power.shape[1] - 1)
    rows = power[:, lo] * (1 - frac) + power[:, hi] * frac  # (WIDTH, SPEC_H)
    db = 10 * np.log10(rows + 1e-12)
    db -= db.max() if np.isfinite(db.max()) else 0
    idx = np.clip((db + DB_RANGE) / DB_RANGE * 255, 0, 255).astype(np.uint8)
    return idx.T[::-1]


def _k_weight(audio: np.ndarray, sr: int) -> np.ndarray:
    return k_weight(audio, sr)  # the audio front end's, as every loudness figure


def warm_imports() -> None:
    """Import what drawing needs (scipy.signal takes seconds on a busy machine) before
    the first picture is asked for."""
    k_weight(np.zeros((16, 1), dtype=np.float32), 44100)  # the front end's filter imports pyloudnorm and scipy


def _block_loudness(energy: np.ndarray, sr: int, seconds: float, starts: np.ndarray) -> np.ndarray:
    """LUFS of the `seconds`-long block at each start; `energy` is the running sum of the
    K-weighted power summed over channels (BS.1770 weighs left and right alike)."""
    n = int(seconds * sr)
    # A block that would run past either end is moved inside, so every block is whole.
    begins = np.clip(starts, 0, max(len(energy) - 1 - n, 0))
    ends = np.minimum(begins + n, len(energy) - 1)
    mean_sq = (energy[ends] - energy[begins]) / np.maximum(ends - begins, 1)
    return -0.691 + 10 * np.log10(mean_sq + 1e-12)


def _loudness_curves(audio: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray, float | None]:
    weighted = _k_weight(audio, sr)
    power = np.einsum("ij,ij->i", weighted, weighted, dtype=np.float64)
    energy = np.concatenate([[0.0], np.cumsum(power)])  # one pass serves every block length
    edges = _columns(len(weighted))
    centres = (edges[:-1] + edges[1:]) // 2  # each column shows the block centred on it
    momentary = _block_loudness(energy, sr, 0.4, centres - int(0.2 * sr))
    short = _block_loudness(energy, sr, 3.0, centres - int(1.5 * sr))
    # Integrated: 400 ms blocks every 100 ms, gated at -70 LUFS and 10 LU under their mean.
    hop = max(int(0.1 * sr), 1)
    blocks = _block_loudness(energy, sr, 0.4, np.arange(0, max(len(weighted) - int(0.4 * sr), 0) + 1, hop))
    gated = blocks[blocks > -70]
    if len(gated) == 0:
        return momentary, short, None
    relative = 10 * np.log10(np.mean(10 ** (gated / 10))) - 10
    kept = gated[gated > relative]
    return momentary, short, float(10 * np.log10(np.mean(10 ** (kept / 10))))


def _y(lufs: float) -> float:
    lo, hi = LOUD_RANGE
    return (hi - min(max(lufs, lo), hi)) / (hi - lo) * (LOUD_H - 1)


def _points(curve: np.ndarray) -> list[tuple[float, float]]:
    return [(float(x), _y(float(v))) for x, v in enumerate(curve)]
