"""An album whose units read every kind of file, for the tests of units run away from it."""
from __future__ import annotations

from pathlib import Path

from helpers import write_pipeline

# 3 tracks x 2 takes in batches of 2: three render batches for two Ray actors, so one
# actor takes a second batch (the model already loaded) as soon as it is free. Every kind
# of file a unit reads is there, so a read its stage does not declare fails away from the
# album: an intro and a cover the pipeline names (shipped from the pipeline folder), the
# album-mode analysis and the continuous mix (they read the takes and the mastered MP3s).
PIPELINE = {"album": {"tracks": 3}, "render": {"takes": 2, "batch_size": 2, "duration": 3.0,
                                               "intro": "sounds/intro.wav"},
            "master": {"album_mode": True, "mix": True, "cover": "art/cover.png"}}
TAKES = {f"t0{t}/take-{n}" for t in (1, 2, 3) for n in (1, 2)}


def pipeline_in(folder: Path, over: dict | None = None) -> Path:
    """The pipeline with its intro and cover beside it, the same bytes in every folder."""
    import numpy as np
    import soundfile as sf
    from PIL import Image

    (folder / "sounds").mkdir()
    t = np.arange(int(0.3 * 32000)) / 32000
    sf.write(folder / "sounds" / "intro.wav", 0.3 * np.sin(2 * np.pi * 220 * t), 32000)
    (folder / "art").mkdir()
    Image.new("RGB", (600, 600), (40, 90, 160)).save(folder / "art" / "cover.png")
    return write_pipeline(folder, {**PIPELINE, **(over or {})})
