"""Cover art: the user's image, or a styled spectrogram with the album's title.

The spectrogram is of a chord progression the album's title and seed choose, not of the
takes: a cover drawn from the audio would change whenever one track is re-rendered, and
every MP3 embeds the cover, so one edited prompt would re-encode the whole album.

Saved at 3000x3000 (what distributors ask for) and embedded in each file at 1000x1000,
which keeps the picture in every MP3 around 100-300 kB.
"""
from __future__ import annotations

import colorsys
import io
from functools import lru_cache
from pathlib import Path

import numpy as np

from albumgen.audio.signal import to_mono
from albumgen.engine.store.hashing import derive_seed
from albumgen.errors import InputError
from albumgen.inputs import MB, read_bytes

SAVE_SIZE = 3000
EMBED_SIZE = 1000
MAX_COVER_BYTES = 64 * MB
MAX_COVER_PIXELS = 64_000_000  # 8000x8000: past this decoding alone takes seconds and GBs
_DRAW = 1000  # the spectrogram is drawn at this size and scaled up: smooth, and fast


def open_cover(source: Path, rel: str):
    """The user's cover, fully decoded, or an InputError saying why it cannot be one.
    Decoded whole here (not lazily) so a damaged file fails before any work, in preflight."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    what = f"master.cover: {rel}"
    data = read_bytes(source, what, max_bytes=MAX_COVER_BYTES,
                      missing=(f"{what} not found", "check the path; it is relative to the pipeline file"))
    if not data:
        raise InputError(f"{what} is empty", "point master.cover at a JPEG or PNG image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if img.width * img.height > MAX_COVER_PIXELS:
                raise Image.DecompressionBombError(f"{img.width}x{img.height}")
            img.load()
    except UnidentifiedImageError:
        raise InputError(f"{what} is not an image albumgen can read", "use a JPEG or PNG image") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(f"{what} has more than {MAX_COVER_PIXELS // 1_000_000} million pixels",
                         f"scale it down (the cover is saved at {SAVE_SIZE}x{SAVE_SIZE})") from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise InputError(f"{what} is a damaged or truncated image", "export it again as JPEG or PNG") from None
    return img


def user_cover(source: Path, rel: str):
    from PIL import Image, ImageOps

    with open_cover(source, rel) as img:
        img = ImageOps.exif_transpose(img).convert("RGB")
    side = min(img.size)
    img = img.crop(((img.width - side) // 2, (img.height - side) // 2,
                    (img.width + side) // 2, (img.height + side) // 2))
    return img.resize((SAVE_SIZE, SAVE_SIZE), Image.Resampling.LANCZOS)


def _spectrogram(takes: list[tuple[np.ndarray, int]], columns: int, rows: int) -> np.ndarray:
    """Log-frequency, dB-scaled spectrogram of the takes side by side, in [0, 1]."""
    from scipy import signal

    total = sum(len(a) for a, _ in takes) or 1
    parts = []
    for audio, sr in takes:
        mono = to_mono(audio)
        cols = max(1, round(columns * len(mono) / total))
        hop = max(256, len(mono) // cols)
        if len(mono) < 2048:
            continue
        f, _, z = signal.stft(mono, sr, nperseg=2048, noverlap=max(0, 2048 - hop), boundary=None, padded=False)
        mag = np.abs(z)
        edges = np.geomspace(40, min(16000, sr / 2), rows + 1)  # hearing is logarithmic
        idx = np.clip(np.searchsorted(f, edges), 1, len(f) - 1)
        bands = np.stack([mag[a:max(b, a + 1)].mean(axis=0) for a, b in zip(idx[:-1], idx[1:])])
        parts.append(bands)
    if not parts:
        return np.zeros((rows, columns))
    spec = 20 * np.log10(np.concatenate(parts, axis=1) + 1e-9)
    spec = np.clip((spec - (spec.max() - 70)) / 70, 0, 1)
    return spec[::-1]  # low frequencies at the bottom


def _palette(seed: int) -> np.ndarray:
    """A 256-step gradient from near black through two hues the album title picks."""
    hue = (seed % 360) / 360
    stops = [(0.0, (0.02, 0.02, 0.05)),
             (0.45, colorsys.hsv_to_rgb(hue, 0.85, 0.55)),
             (0.8, colorsys.hsv_to_rgb((hue + 0.12) % 1, 0.7, 0.95)),
             (1.0, (1.0, 0.97, 0.9))]
    x = np.linspace(0, 1, 256)
    pos = [s[0] for s in stops]
    return np.stack([np.interp(x, pos, [s[1][c] for s in stops]) for c in range(3)], axis=1) * 255


def _font(size: int):
    from PIL import ImageFont

    for name in ("DejaVuSans-Bold.ttf", "Arial Bold.ttf", "arialbd.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def _wrap(draw, text: str, font, width: int, max_lines: int = 3) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] += "…"
    return lines


def _motif(seed: int, sr: int = 8000, seconds: float = 24.0) -> np.ndarray:
    """Music-like audio for the picture: chords on a pentatonic scale, arpeggio partials
    and noise swells, all chosen by the seed."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    out = np.zeros_like(t)
    steps = np.array([0, 2, 4, 7, 9, 12, 14, 16, 19, 21])
    bar = seconds / 8
    for k in range(8):
        seg = (t >= k * bar) & (t < (k + 1) * bar)
        root = 110 * 2 ** (rng.integers(0, 7) / 12)
        env = np.sin(np.pi * (t[seg] - k * bar) / bar) ** 2
        for step in rng.choice(steps, 4, replace=False):
            f0 = root * 2 ** (step / 12)
            for h in range(1, 8):
                if f0 * h < sr / 2:
                    out[seg] += env * np.sin(2 * np.pi * f0 * h * t[seg]) / h ** 1.3
    swell = np.convolve(rng.standard_normal(len(t)), np.ones(8) / 8, "same")
    out += 0.05 * swell * (np.sin(2 * np.pi * t / (bar * 2)) ** 8)
    return out.astype(np.float32)


def generated_cover(title: str, artist: str, seed: int):
    from PIL import Image, ImageDraw, ImageFilter

    picked = derive_seed("cover", title, artist, seed)
    spec = _spectrogram([(_motif(picked), 8000)], _DRAW, _DRAW)
    rgb = _palette(picked)[np.round(spec * 255).astype(int)].astype(np.uint8)
    img = Image.fromarray(rgb).resize((_DRAW, _DRAW), Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(1.5))
    # A dark band behind the text keeps it readable on any spectrogram.
    shade = Image.new("L", img.size, 0)
    ImageDraw.Draw(shade).rectangle([0, int(_DRAW * 0.66), _DRAW, _DRAW], fill=170)
    img = Image.composite(Image.new("RGB", img.size, (8, 8, 12)), img, shade.filter(ImageFilter.GaussianBlur(20)))
    img = img.resize((SAVE_SIZE, SAVE_SIZE), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(img)
    margin = SAVE_SIZE // 12
    big, small = _font(SAVE_SIZE // 12), _font(SAVE_SIZE // 28)
    lines = _wrap(draw, title, big, SAVE_SIZE - 2 * margin)
    y = int(SAVE_SIZE * 0.70)
    for line in lines:
        draw.text((margin, y), line, font=big, fill=(255, 255, 255))
        y += int(big.size * 1.15)
    draw.text((margin, SAVE_SIZE - margin), artist, font=small, fill=(220, 220, 220), anchor="ls")
    return img


def to_jpeg(img, size: int, quality: int) -> bytes:
    from PIL import Image

    if img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality, optimize=True, progressive=False)
    return buf.getvalue()


def embed_jpeg(cover_path: Path) -> bytes:
    st = Path(cover_path).stat()
    return _embed_jpeg(str(cover_path), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=2)  # every track embeds the same picture: scale it down once
def _embed_jpeg(cover_path: str, mtime_ns: int, size: int) -> bytes:
    from PIL import Image

    with Image.open(cover_path) as img:
        return to_jpeg(img.convert("RGB"), EMBED_SIZE, 85)
