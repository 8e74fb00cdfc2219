"""Audio files the manifest hashes must depend only on their samples."""
from __future__ import annotations

import hashlib
import time

import numpy as np

from albumgen.audio.io import read_audio, write_wav


def test_same_audio_same_bytes(tmp_path):
    audio = (np.random.default_rng(0).standard_normal((32000, 2)) * 0.1).astype(np.float32)
    write_wav(tmp_path / "a.wav", audio, 32000)
    time.sleep(1.1)  # a timestamp in the header (libsndfile's PEAK chunk) would change here
    write_wav(tmp_path / "b.wav", audio, 32000)
    assert hashlib.sha256((tmp_path / "a.wav").read_bytes()).digest() == \
        hashlib.sha256((tmp_path / "b.wav").read_bytes()).digest()
    back, sr = read_audio(tmp_path / "a.wav")
    assert sr == 32000 and back.dtype == np.float32 and np.array_equal(back, audio)


def test_mono_reads_as_one_channel(tmp_path):
    write_wav(tmp_path / "m.wav", np.zeros(100, dtype=np.float32), 44100)
    back, sr = read_audio(tmp_path / "m.wav")
    assert back.shape == (100, 1) and sr == 44100
