"""render.backend: audiocraft with AudioCraft's real code: a tiny random-weight MusicGen built
by audiocraft.models.builders (T5 conditioner on a random T5, tokenizer built in code).

These run where the audiocraft extra is installed: `make test` runs them in .venv-audiocraft
(docs/configuration.md, AudioCraft backend). The main venv has no audiocraft and checks the missing-extra
error instead (test_audiocraft_missing.py).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("audiocraft", reason="needs the audiocraft extra (make test runs this in .venv-audiocraft)")
pytestmark = pytest.mark.audiocraft

from render_album import build, takes  # noqa: E402

from albumgen.engine.store.manifest import Manifest  # noqa: E402
from albumgen.models.audiocraft_backend import AudioCraftLoop, decode_tokens, load_audiocraft  # noqa: E402
from albumgen.models.audiocraft_tiny import build_tiny, save_checkpoint  # noqa: E402
from albumgen.models.sampling import Sampling  # noqa: E402
from albumgen.stages.render import engine  # noqa: E402

AC = {"backend": "audiocraft"}
PROMPTS = ["a calm piano at dusk", "fast drums, distorted bass and a long winding synth lead", "a calm piano at dusk"]


@pytest.fixture(scope="module")
def loop():
    return AudioCraftLoop(load_audiocraft("tiny", "cpu"))


def test_same_seed_same_tokens_alone_or_in_any_batch(loop):
    s = Sampling()
    batch = loop.generate(PROMPTS, [11, 22, 33], 30, s)
    assert batch.shape == (3, 4, 30)
    again = loop.generate(PROMPTS, [11, 22, 33], 30, s)
    assert torch.equal(batch, again)
    # alone, and in another batch with another prompt length first
    assert torch.equal(loop.generate([PROMPTS[1]], [22], 30, s)[0], batch[1])
    other = loop.generate([PROMPTS[2], "x"], [33, 44], 30, s)
    assert torch.equal(other[0], batch[2])
    assert not torch.equal(batch[0], batch[2])  # same prompt, other seed: other tokens


def test_a_set_batch_size_computes_every_group_in_that_many_rows(loop):
    """rows (render.batch_size set: one shape for CUDA's kernels): each group of same-length
    prompts is computed in exactly `rows` takes, padded, so a take's row count does not
    depend on which takes shared its batch; the takes are the unpadded ones."""
    seen = []
    hook = loop.lm.model.lm.register_forward_pre_hook(lambda module, args: seen.append(args[0].shape[0]))
    try:
        s = Sampling()
        plain = loop.generate(PROMPTS, [11, 22, 33], 20, s)
        groups, seen[:] = set(seen), []
        padded = loop.generate(PROMPTS, [11, 22, 33], 20, s, rows=4)
    finally:
        hook.remove()
    assert groups == {4, 2}  # CFG rows of the two groups: prompts 1 and 3 (one length), prompt 2
    assert set(seen) == {8} and torch.equal(padded, plain)


def test_stage_renders_saves_tokens_and_resumes(tmp_path):
    album = build(tmp_path, {**AC, "batch_size": 4})
    got = takes(album)
    assert sorted(got) == [f"t0{t}/take-{n}" for t in (1, 2) for n in (1, 2)]
    codes, audio, rec = got["t01/take-2"]
    assert codes.shape == (4, 50) and codes.dtype == np.int16 and audio.shape == (50 * 640, 1)
    assert (rec["backend"], rec["model"], rec["revision"], rec["batch"]) == ("audiocraft", "tiny", "random", 4)
    assert len({c.tobytes() for c, _, _ in got.values()}) == 4
    lm = load_audiocraft("tiny", "cpu")
    for c, a, _ in got.values():  # the saved tokens decode to the take's audio
        again = decode_tokens(lm, torch.from_numpy(c.astype(np.int64))[None])[0].numpy().T
        assert np.array_equal(again, a)
    records = {r.unit: r.key for r in Manifest(album).records("render")}
    build(tmp_path, {**AC, "batch_size": 4})  # resume: nothing to do, nothing rewritten
    assert {r.unit: r.key for r in Manifest(album).records("render")} == records
    rendered = [e for e in Manifest(album).events() if e["event"] == "render_batch_size"]
    assert len(rendered) == 1


def test_oom_halves_the_batch_and_takes_do_not_depend_on_it(tmp_path, monkeypatch):
    (tmp_path / "whole").mkdir()
    (tmp_path / "alone").mkdir()
    whole = takes(build(tmp_path / "whole", {**AC, "batch_size": 4, "duration": 0.4}))
    real = engine.generate_takes
    tried = []

    def small_gpu(loop, prompts, *args, **kwargs):
        tried.append(len(prompts))
        if len(prompts) > 1:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(loop, prompts, *args, **kwargs)

    monkeypatch.setattr(engine, "generate_takes", small_gpu)
    alone = takes(build(tmp_path / "alone", {**AC, "batch_size": 4, "duration": 0.4}))
    assert tried == [4, 2, 1, 1, 1, 1]
    for unit, (codes, _audio, rec) in alone.items():
        assert rec["batch"] == 1 and np.array_equal(codes, whole[unit][0]), unit


def test_long_takes_continue_window_after_window(tmp_path):
    got = takes(build(tmp_path, {**AC, "takes": 1, "duration": 1.6, "max_window": 1.0, "extend_stride": 0.6}))
    codes, audio, rec = got["t02/take-1"]
    assert codes.shape == (4, 80) and audio.shape == (80 * 640, 1)


def test_a_saved_checkpoint_folder_loads_back_and_renders_the_same_tokens(tmp_path, loop):
    save_checkpoint(build_tiny(), tmp_path / "ckpt")
    assert {p.name for p in (tmp_path / "ckpt").iterdir()} >= {"state_dict.bin", "compression_state_dict.bin",
                                                              "t5-small"}
    folder = load_audiocraft(str(tmp_path / "ckpt"), "cpu")
    assert folder.revision.startswith("folder:")
    s = Sampling()
    assert torch.equal(AudioCraftLoop(folder).generate(PROMPTS, [1, 2, 3], 20, s),
                       loop.generate(PROMPTS, [1, 2, 3], 20, s))
    album = build(tmp_path, {**AC, "model": "ckpt", "takes": 1, "duration": 0.2})
    assert takes(album)["t01/take-1"][2]["revision"] == folder.revision


def test_backend_is_part_of_the_take_key_only_when_set():
    from albumgen.stages.render.config import RenderConfig

    assert "backend" not in RenderConfig().key_fields()
    assert RenderConfig(backend="audiocraft").key_fields()["backend"] == "audiocraft"


def test_takes_continue_the_intro_and_keep_its_tokens(tmp_path):
    from render_album import write_intro

    from albumgen.models.reference import intro_codes

    intro = write_intro(tmp_path)
    got = takes(build(tmp_path, {**AC, "intro": "intro.wav", "duration": 0.8}))
    want = intro_codes(load_audiocraft("tiny", "cpu"), intro, 40, 1500).numpy()[0]
    assert want.shape == (4, 15)
    for unit, (codes, _, _) in got.items():
        assert codes.shape == (4, 40) and np.array_equal(codes[:, :15], want), unit
    assert len({c[:, 15:].tobytes() for c, _, _ in got.values()}) == 4
