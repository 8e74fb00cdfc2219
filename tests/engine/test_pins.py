"""Known values that must never drift by accident.

A seed, a unit key or a take's tokens that changed between versions would silently change
every user's album (new takes for the same pipeline) or re-render finished work. If one of
these tests fails, the change must be deliberate: bump the stage's `version` (so old
records are not reused as if they were the new thing) and update the pinned value here,
saying so in the commit message.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
from helpers import write_pipeline

from albumgen.engine import runner
from albumgen.engine.store.hashing import canonical_json, derive_seed, sha256_json, unit_key
from albumgen.engine.store.manifest import Manifest


def test_derive_seed_known_values():
    assert derive_seed(1, "t01", 1) == PINNED_SEEDS[(1, "t01", 1)]
    assert derive_seed(0, "t01", 1) == PINNED_SEEDS[(0, "t01", 1)]
    assert derive_seed(1, "t01", 2) == PINNED_SEEDS[(1, "t01", 2)]
    assert derive_seed(2 ** 62, "t99", 64) == PINNED_SEEDS[(2 ** 62, "t99", 64)]
    assert derive_seed("x") == PINNED_SEEDS[("x",)]


def test_canonical_json_and_unit_key_known_values():
    assert canonical_json({"b": [1, 2.5, None], "a": "é", "c": {"z": True, "y": "p"}}) == \
        '{"a":"é","b":[1,2.5,null],"c":{"y":"p","z":true}}'
    assert sha256_json({"a": 1}) == hashlib.sha256(b'{"a":1}').hexdigest()
    assert unit_key("render", "2", {"model": "tiny", "seed": 5}, {"prompt": "ab"}) == PINNED_UNIT_KEY


# The pipeline whose keys are pinned: inline prompts (the builtin composer may change its
# wording; the keys of a user's own prompts must not), every keyed field written out.
FIXED = {"album": {"title": "Pinned", "slug": "pinned", "tracks": 2, "seed": 3, "year": 2026},
         "prompts": {"source": "inline", "inline": ["calm piano, 70 bpm", "Drive: dark synthwave, 100 bpm"]},
         "render": {"model": "tiny", "takes": 2, "duration": 0.4, "top_k": 50, "top_p": 0.9, "temperature": 0.8,
                    "device": "cpu"}}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pinned")
    path = write_pipeline(folder, FIXED)
    ctx = runner.open_pipeline(path, progress=False)
    runner.build(ctx, until="render")
    return Manifest(ctx.album_dir)


def test_unit_keys_of_a_fixed_pipeline(rendered):
    keys = {f"{s}/{r.unit}": r.key for s in ("prompts", "render") for r in rendered.records(s)}
    assert keys == PINNED_KEYS


def test_seeds_of_a_fixed_pipeline(rendered):
    seeds = {r.unit: r.data["seed"] for r in rendered.records("render")}
    assert seeds == {f"t0{t}/take-{n}": derive_seed(3, f"t0{t}", n) for t in (1, 2) for n in (1, 2)}


def test_tokens_of_a_fixed_tiny_take(rendered):
    """The tiny model's tokens for one seed and prompt: the noise hash, sampling and the
    decoding loop together, with temperature, top-k and top-p all in play. Pinned by
    content hash, with the first frames spelled out (CPU, float32: the path of CI and the
    demo; a GPU's bf16 logits are not bit-identical and are not pinned here)."""
    codes = np.load(rendered.album_dir / "manifest/takes/t02/take-1.codes")
    assert codes.dtype == np.int16 and codes.shape == (4, 20)
    assert codes[:, :6].tolist() == PINNED_TOKENS_HEAD
    assert hashlib.sha256(codes.tobytes()).hexdigest() == PINNED_TOKENS_SHA


def test_tokens_of_a_windowed_tiny_take(tmp_path):
    """A take longer than one window (1.2 s, 1 s windows, 0.6 s stride): continuation and
    its per-window noise offset are pinned as well."""
    path = write_pipeline(tmp_path, {**FIXED, "album": {**FIXED["album"], "tracks": 1},
                                     "render": {**FIXED["render"], "takes": 1, "duration": 1.2, "max_window": 1.0,
                                                "extend_stride": 0.6}})
    ctx = runner.open_pipeline(path, progress=False)
    runner.build(ctx, until="render")
    codes = np.load(ctx.album_dir / "manifest/takes/t01/take-1.codes")
    assert codes.shape == (4, 60)
    assert hashlib.sha256(codes.tobytes()).hexdigest() == PINNED_WINDOWED_SHA


PINNED_SEEDS = {(1, "t01", 1): 7618831261107783142, (0, "t01", 1): 6558286740420756517,
                (1, "t01", 2): 933279930033077214, (2 ** 62, "t99", 64): 7772847074899343648,
                ("x",): 5577121188986592916}
PINNED_UNIT_KEY = "72f9ee8cc5c0245d54493df377157ff378061d2a747583487e2ca5d74242f5f8"
PINNED_KEYS = {
    "prompts/tracklist": "656db85fe742cb81d6f4a34ba8f02bd6b6dc983650f393285104066f520f3ef6",
    "render/t01/take-1": "280910d3ab1bfa091e299b652963ed8d81e930988b7c32d1e7d8d8107800c099",
    "render/t01/take-2": "9e280e02fad5744015b871386b32383f42835727bf206f0075be3ef727f0a5fd",
    "render/t02/take-1": "620593f1149f18086cc15ca8125019b4ef7908e591bdf9a2d62add6f7feebf79",
    "render/t02/take-2": "8a098f04a77d6d5081b599451e38447b06d28642672d61c45c48718ffd21ac1c",
}
PINNED_TOKENS_HEAD = [[1, 52, 43, 63, 40, 27], [22, 18, 18, 22, 34, 33], [29, 46, 18, 8, 63, 40],
                      [50, 50, 29, 58, 42, 3]]
PINNED_TOKENS_SHA = "2cc4638236c6955d832c9fb97eeb7edcfa452966dc1717840314201371bc427c"
PINNED_WINDOWED_SHA = "76af10e5e8fe7d5da35b2d702c0c1520c0d93bb464bc7b73ac25871b514a02a4"
