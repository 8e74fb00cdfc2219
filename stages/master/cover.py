"""Cover art: the user's image, or one drawn from the album's title."""
from __future__ import annotations

import io
from pathlib import Path

from albumgen.hashing import derive_seed


def make_cover(title: str, artist: str, size: int = 1000, source: Path | None = None) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    if source is not None:
        img = Image.open(source).convert("RGB")
        side = min(img.size)
        img = img.crop(((img.width - side) // 2, (img.height - side) // 2,
                        (img.width + side) // 2, (img.height + side) // 2)).resize((size, size))
    else:
        seed = derive_seed("cover", title, artist)
        c1 = ((seed >> 0) & 255, (seed >> 8) & 255, (seed >> 16) & 255)
        c2 = ((seed >> 24) & 255, (seed >> 32) & 255, (seed >> 40) & 255)
        img = Image.new("RGB", (size, size))
        draw = ImageDraw.Draw(img)
        for y in range(size):
            t = y / (size - 1)
            draw.line([(0, y), (size, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(c1, c2)))
        try:
            font = ImageFont.load_default(size=size // 14)
        except TypeError:
            font = ImageFont.load_default()
        draw.text((size // 12, size // 12), title, fill="white", font=font)
        draw.text((size // 12, size - size // 6), artist, fill="white", font=font)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()
