"""render.decoder: mbd. MultiBandDiffusion (AudioCraft's real code, random weights) decodes a
take's saved tokens as the decode stage's own keyed unit: switching the decoder re-decodes only."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

pytest.importorskip("audiocraft", reason="needs the audiocraft extra (make test runs this in .venv-audiocraft)")
pytestmark = pytest.mark.audiocraft

from helpers import cli, write_pipeline  # noqa: E402

from albumgen.engine import runner  # noqa: E402
from albumgen.engine.store.manifest import Manifest  # noqa: E402
from albumgen.models.mbd import LoadedMBD, build_tiny_mbd, decode_mbd  # noqa: E402


def build(folder, render: dict, until: str = "pick"):
    pipeline = write_pipeline(folder, {"render": {"takes": 1, "duration": 0.4, **render}})
    ctx = runner.open_pipeline(pipeline, progress=False)
    runner.build(ctx, until=until)
    return Manifest(ctx.album_dir), ctx.album_dir


def ran(manifest: Manifest, stage: str) -> list[str]:
    return [e["unit"] for e in manifest.events() if e["event"] == "unit_done" and e["stage"] == stage]


def test_the_checks_pass_mbd_where_the_extra_is_installed(tmp_path):
    r = cli("build", str(write_pipeline(tmp_path, {"render": {"decoder": "mbd"}})), "--dry-run")
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("backend", ["transformers", "audiocraft"])
def test_switching_the_decoder_decodes_saved_tokens_and_renders_nothing(tmp_path, backend):
    manifest, album = build(tmp_path, {"backend": backend})
    render_keys = {r.unit: r.key for r in manifest.records("render")}
    assert manifest.records("decode") == [] and len(render_keys) == 2
    assert all(p.data["wav"].endswith("take-1.wav") for p in manifest.records("pick"))

    manifest, album = build(tmp_path, {"backend": backend, "decoder": "mbd"})
    assert {r.unit: r.key for r in manifest.records("render")} == render_keys
    assert len(ran(manifest, "render")) == 2  # only the first build's takes: none rendered again
    assert sorted(ran(manifest, "decode")) == ["t01/take-1", "t02/take-1"]
    mbd = LoadedMBD(build_tiny_mbd(), "tiny", "cpu")
    for rec in manifest.records("decode"):
        take = manifest.record("render", rec.unit)
        codes = np.load(album / next(r for r in take.outputs if r.endswith(".codes")))
        wav = next(r for r in rec.outputs if r.endswith(".wav"))
        assert wav.endswith("take-1.mbd.wav") and rec.data["seed"] == take.data["seed"]
        audio, sr = sf.read(album / wav, dtype="float32", always_2d=True)
        expected = decode_mbd(mbd, torch.from_numpy(codes.astype(np.int64)), take.data["seed"]).numpy().T
        assert sr == 32000 and np.array_equal(audio, expected)  # MBD of the saved tokens, seeded by the take
        encodec, _ = sf.read(album / next(r for r in take.outputs if r.endswith(".wav")), dtype="float32")
        assert not np.allclose(audio[:, 0], encodec)
    assert all(p.data["wav"].endswith("take-1.mbd.wav") for p in manifest.records("pick"))

    manifest, album = build(tmp_path, {"backend": backend, "decoder": "mbd"})  # resume: nothing to decode
    assert len(ran(manifest, "decode")) == 2
    manifest, album = build(tmp_path, {"backend": backend})  # back to EnCodec: decoded audio dropped
    assert manifest.records("decode") == [] and not list(album.glob("manifest/takes/*/*.mbd.wav"))
    assert len(ran(manifest, "render")) == 2
    assert all(p.data["wav"].endswith("take-1.wav") for p in manifest.records("pick"))


def test_a_lost_decode_record_comes_back_from_its_sidecar(tmp_path):
    manifest, album = build(tmp_path, {"decoder": "mbd"})
    decoded = {r.unit: r for r in manifest.records("decode")}
    assert sorted(decoded) == ["t01/take-1", "t02/take-1"]
    assert all(sorted(r.outputs) == [f"manifest/takes/{r.unit.split('/')[0]}/take-1.mbd.json",
                                     f"manifest/takes/{r.unit.split('/')[0]}/take-1.mbd.wav"] for r in decoded.values())
    (album / "manifest" / "manifest.json").unlink()
    (album / "manifest" / "journal.jsonl").unlink()
    manifest, album = build(tmp_path, {"decoder": "mbd"})
    assert len(ran(manifest, "decode")) == 2  # the first build's only: no device time again
    assert sorted(e["unit"] for e in manifest.events() if e["event"] == "unit_recovered"
                  and e["stage"] == "decode") == ["t01/take-1", "t02/take-1"]
    assert {r.unit: (r.key, r.data) for r in manifest.records("decode")} == \
        {u: (r.key, r.data) for u, r in decoded.items()}
