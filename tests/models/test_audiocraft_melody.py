"""Melody conditioning through AudioCraft (render.melody, render.backend: audiocraft): a tiny
random melody MusicGen (ChromaStemConditioner on a random HTDemucs) built with AudioCraft's
builders. The transformers backend refuses melody checkpoints (test_claims_engine.py)."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

pytest.importorskip("audiocraft", reason="needs the audiocraft extra (make test runs this in .venv-audiocraft)")
pytestmark = pytest.mark.audiocraft

from render_album import build, takes  # noqa: E402

from albumgen.errors import ModelError  # noqa: E402
from albumgen.models.audiocraft_backend import AudioCraftLoop, load_audiocraft  # noqa: E402
from albumgen.models.sampling import Sampling  # noqa: E402

SR = 32000


def tone(freq: float, seconds: float = 2.0) -> torch.Tensor:
    t = np.arange(int(seconds * SR)) / SR
    return torch.from_numpy((0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32))[None]


@pytest.fixture(scope="module")
def loop():
    return AudioCraftLoop(load_audiocraft("tiny-melody", "cpu"))


def test_the_melody_reaches_the_model_and_changes_the_tokens(loop):
    s = Sampling()
    plain = loop.generate(["piano"], [1], 30, s)
    a = loop.generate(["piano"], [1], 30, s, melodies=[tone(440)])
    assert not torch.equal(plain, a)  # not ignored (transformers #45647 was a melody that changed nothing)
    assert torch.equal(loop.generate(["piano"], [1], 30, s, melodies=[tone(440)]), a)
    # another melody gives the model other conditions (a random LM's logits barely move, so
    # the conditions are compared, not the tokens)
    ca, cb = (loop.take_conditions("piano", True, m)["self_wav"][0] for m in (tone(440), tone(262)))
    assert ca.shape == cb.shape and not torch.equal(ca, cb)
    # a take with a melody and one without share a batch and stay as they were alone
    both = loop.generate(["piano", "piano"], [1, 1], 30, s, melodies=[tone(440), None])
    assert torch.equal(both[0], a[0]) and torch.equal(both[1], plain[0])


def test_continuation_windows_follow_the_melody_on(loop):
    m = torch.arange(10 * 640, dtype=torch.float32)[None]  # 10 frames long
    assert torch.equal(loop.melody_window(m, 4, 8)[0], torch.arange(4 * 640, 12 * 640) % (10 * 640))


def test_render_melody_per_track_is_in_the_key(tmp_path):
    sf.write(tmp_path / "a.wav", tone(440)[0].numpy(), SR)
    (tmp_path / "plain").mkdir()
    plain = takes(build(tmp_path / "plain", {"backend": "audiocraft", "model": "tiny-melody", "takes": 1,
                                             "duration": 0.4}))
    got = takes(build(tmp_path, {"backend": "audiocraft", "model": "tiny-melody", "takes": 1, "duration": 0.4,
                                 "melody": {"t01": "a.wav"}}))
    assert not np.array_equal(got["t01/take-1"][0], plain["t01/take-1"][0])  # t01 follows a.wav
    assert np.array_equal(got["t02/take-1"][0], plain["t02/take-1"][0])  # t02 has none: as before


def test_a_melody_for_a_model_without_melody_is_an_error(tmp_path):
    sf.write(tmp_path / "a.wav", tone(440)[0].numpy(), SR)
    with pytest.raises(ModelError, match=r"^render.melody: tiny is not a melody checkpoint"):
        build(tmp_path, {"backend": "audiocraft", "takes": 1, "duration": 0.2, "melody": "a.wav"})


def test_a_melody_from_the_prompts_reaches_the_audiocraft_backend(tmp_path):
    """The prompts' melody column (test_prompts_melody.py) on this backend: the same takes,
    key for key and token for token, as the same melody set by track id in render.melody."""
    from render_album import render_keys

    sf.write(tmp_path / "a.wav", tone(440)[0].numpy(), SR)
    inline = [{"prompt": "soft piano at 70 bpm", "melody": "../a.wav"}, {"prompt": "warm strings at 80 bpm"}]
    render = {"backend": "audiocraft", "duration": 0.4}
    for name in ("column", "by-id"):
        (tmp_path / name).mkdir()
    column, _ = render_keys(tmp_path / "column", {"source": "inline", "inline": inline}, render)
    by_id, _ = render_keys(tmp_path / "by-id", {"source": "inline", "inline": [{"prompt": i["prompt"]} for i in inline]},
                           {**render, "melody": {"t01": "../a.wav"}})
    assert column == by_id and len(column) == 2
    got = {n: takes(tmp_path / n / "albums" / "test-album") for n in ("column", "by-id")}
    assert all(np.array_equal(got["column"][u][0], got["by-id"][u][0]) for u in column)
