"""albumgen's chroma (models/melody.py, torch.stft) against transformers' own
MusicgenMelodyFeatureExtractor, which needs torchaudio: it runs where torchaudio loads (the
audiocraft environment, `make test`), and is skipped in the CPU-only main one."""
from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("torchaudio", reason="the feature extractor needs torchaudio (make test runs this in .venv-audiocraft)")
pytestmark = pytest.mark.audiocraft

from transformers import MusicgenMelodyFeatureExtractor  # noqa: E402

from albumgen.models.melody import ChromaSettings, chroma  # noqa: E402

SR = 32000


def signals() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    t = np.arange(3 * SR) / SR
    notes = np.concatenate([np.sin(2 * np.pi * f * t[:SR // 2]) for f in (262, 294, 330, 349, 392, 440)])
    return {
        "notes": (0.3 * notes).astype(np.float32),  # a scale: a different pitch class every half second
        "noise": (0.1 * rng.standard_normal(2 * SR)).astype(np.float32),  # no pitch: argmax near ties
        "chord": (0.2 * (np.sin(2 * np.pi * 262 * t) + np.sin(2 * np.pi * 330 * t))).astype(np.float32),
        "short": (0.3 * np.sin(2 * np.pi * 440 * t[:5000])).astype(np.float32),  # under one FFT: padded
        "long": (0.1 * rng.standard_normal(31 * SR)).astype(np.float32),  # past 30 s: cut
        "silence": np.zeros(SR, dtype=np.float32),
    }


@pytest.mark.parametrize("name", list(signals()))
def test_chroma_equals_the_feature_extractor(name):
    wav = signals()[name]
    want = MusicgenMelodyFeatureExtractor()(wav, sampling_rate=SR, return_tensors="pt")["input_features"][0]
    got = chroma(torch.from_numpy(wav), ChromaSettings())
    assert got.shape == want.shape and torch.equal(got, want)


def test_the_scale_moves_through_its_pitch_classes():
    got = chroma(torch.from_numpy(signals()["notes"]), ChromaSettings()).argmax(-1)
    assert {0, 2, 4, 5, 7, 9} <= set(got.tolist())  # C D E F G A
