"""The one end-to-end master test: the real CLI, the tiny model, real takes and picks."""
from __future__ import annotations

import json

import pytest
from helpers import run_cli, write_pipeline
from master_album import decoded_frames, ebur128
from mutagen.id3 import ID3

from albumgen.engine.store.manifest import Manifest


@pytest.mark.slow
def test_build_masters_real_takes(tmp_path):
    pipeline = write_pipeline(tmp_path, {"album": {"title": "../CON: Night/Day.", "slug": None}})
    r = run_cli("build", str(pipeline), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    album = tmp_path / "albums" / "con-night-day"
    manifest = Manifest(album)
    data = json.loads((album / "album.json").read_text("utf-8"))
    assert data["album"] == "../CON: Night/Day." and len(data["tracklist"]) == 2
    for t in data["tracklist"]:
        path = album / t["file"]
        assert path.parent == album and t["file"].startswith(f"{t['n']:02d} - ")
        lufs, peak = ebur128(path)
        assert abs(lufs - -14.0) <= 0.5 and peak <= -1.0
        rec = manifest.record("master", t["id"]).data
        assert abs(decoded_frames(path) - rec["frames"]) <= 0.05 * 44100
        pick = manifest.record("pick", t["id"]).data
        take = manifest.record("render", f"{t['id']}/take-{pick['choice']}").data
        txxx = {f.desc: str(f) for f in ID3(path).getall("TXXX")}
        assert (txxx["albumgen_seed"], txxx["albumgen_model"], txxx["albumgen_take"]) == \
            (str(take["seed"]), "tiny", str(pick["choice"]))
        assert str(ID3(path)["TALB"]) == "../CON: Night/Day." and str(ID3(path)["TRCK"]) == f"{t['n']}/2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["albums", "pipeline.yaml"]
