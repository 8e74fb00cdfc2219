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

VERSION = "2"
CACHE = "manifest/review"  # inside the album folder, beside what it pictures
WIDTH = 800
# Room for the axes: labels left of the plot, a time axis under it, a legend above the
# loudness graph. Curves and spectrogram columns span PLOT_W.
LEFT, RIGHT = 46, 8
PLOT_W = WIDTH - LEFT - RIGHT
AXIS_H = 18
WAVE_H, SPEC_H = 56, 150
TAKE_H = WAVE_H + SPEC_H + AXIS_H
LEGEND_H, LOUD_PLOT_H = 18, 120
LOUD_H = LEGEND_H + LOUD_PLOT_H + AXIS_H
LOUD_RANGE = (-42.0, 0.0)  # LUFS shown; the target (-14 by default) sits well inside
FREQ_RANGE = (40.0, 16000.0)
FREQ_TICKS = (100, 300, 1000, 3000, 10000)
DB_RANGE = 80.0  # spectrogram dynamic range under its loudest bin

# A dark-to-bright palette (black, violet, red, orange, pale yellow) for the spectrogram.
_ANCHORS = np.array([[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66],
                     [245, 125, 21], [250, 193, 39], [252, 255, 164]], dtype=np.float32)
_LUT = np.stack([np.interp(np.linspace(0, 1, 256), np.linspace(0, 1, len(_ANCHORS)), _ANCHORS[:, c])
                 for c in range(3)], axis=1).astype(np.uint8)
_BG = np.array([17, 17, 24], dtype=np.uint8)
_WAVE = np.array([120, 200, 255], dtype=np.uint8)
_LABEL = (150, 150, 170)
_GRID = (48, 48, 60)
MOMENTARY, SHORT, INTEGRATED = (90, 140, 200), (130, 230, 160), (250, 193, 39)

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
    """Waveform (min/max per column) above a log-frequency spectrogram, with a frequency
    axis on the left and a time axis under both."""
    audio, sr = read_audio(audio_path)
    mono = to_mono(audio).astype(np.float32)
    img = np.empty((TAKE_H, WIDTH, 3), dtype=np.uint8)
    img[:] = _BG
    _draw_wave(img[:WAVE_H, LEFT:LEFT + PLOT_W], mono)
    img[WAVE_H:WAVE_H + SPEC_H, LEFT:LEFT + PLOT_W] = _LUT[_spectrogram(mono, sr)]
    pic = Image.fromarray(img)
    draw = ImageDraw.Draw(pic)
    draw.text((4, 4), "wave", fill=_LABEL)
    top = min(FREQ_RANGE[1], sr / 2)
    for hz in FREQ_TICKS:
        if not FREQ_RANGE[0] <= hz <= top:
            continue
        y = WAVE_H + _freq_row(hz, top)
        draw.line([(LEFT - 4, y), (LEFT - 1, y)], fill=_LABEL)
        draw.text((4, y - 5), f"{hz // 1000}k" if hz >= 1000 else str(hz), fill=_LABEL)
    draw.text((4, WAVE_H + SPEC_H - 12), "Hz", fill=_LABEL)
    _time_axis(draw, len(mono) / sr, WAVE_H + SPEC_H)
    return _png(pic)


def loudness_png(audio_path: Path) -> bytes:
    """Momentary (400 ms) and short-term (3 s) loudness over time, as BS.1770 measures them,
    over a faint waveform; the dashed line is the integrated loudness. A legend above, LUFS
    on the left, time under it. Blocks at either end are cut at the edge of the audio, not
    moved inside it, so a fade-out falls to the end as it sounds."""
    audio, sr = read_audio(audio_path)
    momentary, short, integrated = _loudness_curves(audio, sr)
    img = np.empty((LOUD_H, WIDTH, 3), dtype=np.uint8)
    img[:] = _BG
    _draw_wave(img[LEGEND_H:LEGEND_H + LOUD_PLOT_H, LEFT:LEFT + PLOT_W], to_mono(audio).astype(np.float32),
               colour=np.array([40, 52, 70], dtype=np.uint8))
    pic = Image.fromarray(img)
    draw = ImageDraw.Draw(pic)
    lo, hi = LOUD_RANGE
    for db in range(int(hi), int(lo) - 1, -6):
        y = _y(db)
        draw.line([(LEFT, y), (LEFT + PLOT_W, y)], fill=_GRID)
        draw.text((4, y - 5), f"{db:>3d}", fill=_LABEL)
    draw.text((4, 3), "LUFS", fill=_LABEL)
    if integrated is not None:
        y = _y(integrated)
        for x in range(LEFT, LEFT + PLOT_W, 12):
            draw.line([(x, y), (x + 6, y)], fill=INTEGRATED)
    draw.line(_points(momentary), fill=MOMENTARY, width=1)
    draw.line(_points(short), fill=SHORT, width=2)
    _legend(draw, [(MOMENTARY, "momentary (0.4 s)", False), (SHORT, "short-term (3 s)", False),
                   (INTEGRATED, "integrated" + (f" {integrated:.1f} LUFS" if integrated is not None else ": silent"),
                    True)])
    _time_axis(draw, len(audio) / sr, LEGEND_H + LOUD_PLOT_H)
    return _png(pic)


def _legend(draw: ImageDraw.ImageDraw, items: list[tuple[tuple[int, int, int], str, bool]]) -> None:
    x = LEFT
    for colour, label, dashed in items:
        y = LEGEND_H // 2
        for seg in range(0, 18, 6 if dashed else 18):
            draw.line([(x + seg, y), (x + seg + (3 if dashed else 18), y)], fill=colour, width=2)
        draw.text((x + 22, y - 6), label, fill=_LABEL)
        x += 22 + int(draw.textlength(label)) + 18


def _time_axis(draw: ImageDraw.ImageDraw, seconds: float, y: int) -> None:
    """Ticks and m:ss labels under the plot, every 1, 2, 5, 10, 15, 30 or 60 s: at most ten."""
    step = next((s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300) if seconds / s <= 10), 600)
    draw.line([(LEFT, y), (LEFT + PLOT_W, y)], fill=_GRID)
    t = 0
    while t <= seconds + 1e-9:
        x = LEFT + (t / seconds * PLOT_W if seconds > 0 else 0)
        draw.line([(x, y), (x, y + 3)], fill=_LABEL)
        label = f"{int(t) // 60}:{int(t) % 60:02d}"
        draw.text((min(max(x - draw.textlength(label) / 2, LEFT), WIDTH - RIGHT - draw.textlength(label)), y + 5),
                  label, fill=_LABEL)
        t += step


def _freq_row(hz: float, top: float) -> int:
    """The spectrogram row (0 at the top) showing `hz`."""
    frac = np.log(hz / FREQ_RANGE[0]) / np.log(top / FREQ_RANGE[0])
    return int(round((1 - frac) * (SPEC_H - 1)))


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def _columns(n: int) -> np.ndarray:
    """Sample index where each of PLOT_W columns starts (n samples spread over the plot)."""
    return (np.arange(PLOT_W + 1) * max(n, 1) / PLOT_W).astype(np.int64)


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
    """(SPEC_H, PLOT_W) palette indices: one Hann-windowed FFT per column, log-frequency
    rows from FREQ_RANGE, dB under the loudest bin; low frequencies at the bottom."""
    n_fft = 2048 if sr > 24000 else 1024
    # Mirrored edges: zeros there would read as a click and paint the first and last
    # columns bright at every frequency.
    mode = "reflect" if len(mono) > n_fft else "constant"
    padded = np.pad(mono, (n_fft // 2, n_fft), mode=mode)
    centres = (_columns(len(mono))[:-1] + _columns(len(mono))[1:]) // 2
    frames = padded[centres[:, None] + np.arange(n_fft)[None, :]] * np.hanning(n_fft).astype(np.float32)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2  # (PLOT_W, bins)
    top = min(FREQ_RANGE[1], sr / 2)
    freqs = np.geomspace(FREQ_RANGE[0], top, SPEC_H)
    bins = freqs * n_fft / sr
    lo = np.floor(bins).astype(int)
    frac = (bins - lo).astype(np.float32)
    hi = np.minimum(lo + 1, power.shape[1] - 1)
    rows = power[:, lo] * (1 - frac) + power[:, hi] * frac  # (PLOT_W, SPEC_H)
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
    # A block that runs past either end is cut there: the curve then follows a fade-out down
    # to the end. Moved inside instead, the last 3 s block would hold the level from before
    # the fade, and the fade would read as level, or as rising against the falling wave.
    begins = np.clip(starts, 0, len(energy) - 1)
    ends = np.clip(starts + n, 0, len(energy) - 1)
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
    return LEGEND_H + (hi - min(max(lufs, lo), hi)) / (hi - lo) * (LOUD_PLOT_H - 1)


def _points(curve: np.ndarray) -> list[tuple[float, float]]:
    return [(float(LEFT + x), _y(float(v))) for x, v in enumerate(curve)]
