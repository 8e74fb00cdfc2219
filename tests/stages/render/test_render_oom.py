"""Out of memory where it really happens: mid-batch inside the decoding loop (half a KV
cache written), in EnCodec decoding after the tokens are done, and as MPS reports it (a
RuntimeError, not torch.OutOfMemoryError). The fault is injected with torch's global
module hooks into the real model's own modules, so the render stage, the fast loop and
EnCodec run exactly as in a build; only the allocation "fails". Each time the batch
halves, the render goes on, and every take is token for token what a build that never
ran out of memory gives.
"""
from __future__ import annotations

import contextlib

import numpy as np
import pytest
import soundfile as sf
import torch
from helpers import write_pipeline

from albumgen.engine import runner
from albumgen.engine.store.manifest import Manifest

TAKES = [f"t0{t}/take-{n}" for t in (1, 2) for n in (1, 2)]


def build(folder, render: dict):
    pipeline = write_pipeline(folder, {"render": {"duration": 0.6, **render}})
    ctx = runner.open_pipeline(pipeline, progress=False)
    runner.build(ctx, until="render")
    return ctx.album_dir


def takes(album) -> dict[str, tuple[bytes, bytes]]:
    out = {}
    for rec in Manifest(album).records("render"):
        stem = album / "manifest" / "takes" / rec.unit
        audio, _ = sf.read(f"{stem}.wav", dtype="float32", always_2d=True)
        out[rec.unit] = (np.load(f"{stem}.codes").tobytes(), audio.tobytes())
    return out


def ooms(album) -> list[tuple[int, int]]:
    return [(e["failed_batch"], e["batch_size"]) for e in Manifest(album).events() if e["event"] == "render_oom"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The same four takes, rendered in one batch that fits."""
    return takes(build(tmp_path_factory.mktemp("reference"), {"batch_size": 4}))


@contextlib.contextmanager
def failing(when, error):
    """Raise `error` before a module's forward whenever when(module, input) says so."""
    def hook(module, args):
        x = next((a for a in args if isinstance(a, torch.Tensor)), None)
        if x is not None and when(module, x):
            raise error

    handle = torch.nn.modules.module.register_module_forward_pre_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def mid_batch(max_rows: int):
    """Only max_rows decoder rows fit: a bigger batch runs 10 of its 33 steps, then fails.
    Counted on the one-position inputs of decoding steps only, so it fails in the loop."""
    calls = {"n": 0}

    def when(module, x):
        if type(module).__name__ != "Linear" or x.dim() != 3 or x.shape[1] != 1 or x.shape[0] <= max_rows:
            return False
        calls["n"] += 1
        if calls["n"] >= 100:  # 10 steps into the loop: 5 Linear modules per layer and step, 2 layers
            calls["n"] = 0
            return True
        return False

    return when


@pytest.mark.parametrize("error", [torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
                                   RuntimeError("MPS backend out of memory (MPS allocated: 17.00 GB, other "
                                                "allocations: 1.20 GB, max allowed: 18.13 GB)")],
                         ids=["cuda", "mps"])
def test_out_of_memory_mid_batch_halves_and_renders_the_same_takes(tmp_path, reference, error):
    with failing(mid_batch(max_rows=2), error):  # CFG doubles rows: one take is two rows
        album = build(tmp_path, {"batch_size": 4})
    assert ooms(album) == [(4, 2), (2, 1)]
    assert takes(album) == reference


def test_out_of_memory_in_encodec_decoding(tmp_path, reference):
    seen = {"n": 0}

    def first_decode(module, x):
        if type(module).__name__ != "EncodecDecoder":
            return False
        seen["n"] += 1
        return seen["n"] == 1  # the batch's tokens are done; its first take's audio fails

    with failing(first_decode, torch.OutOfMemoryError("CUDA out of memory (EnCodec)")):
        album = build(tmp_path, {"batch_size": 4})
    assert ooms(album) == [(4, 2)]
    assert takes(album) == reference


def test_an_error_that_is_not_memory_is_not_retried(tmp_path):
    with failing(mid_batch(max_rows=2), RuntimeError("CUBLAS_STATUS_EXECUTION_FAILED")):
        with pytest.raises(RuntimeError, match="CUBLAS_STATUS_EXECUTION_FAILED"):
            build(tmp_path, {"batch_size": 4})
    assert Manifest(tmp_path / "albums" / "test-album").records("render") == []
