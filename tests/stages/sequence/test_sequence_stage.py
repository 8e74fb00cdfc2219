"""sequence and master together on takes with known keys and tempos: as_listed keeps the
tracklist's order, flow renumbers the album, and every place a track number shows follows."""
from __future__ import annotations

import json

import numpy as np
import pytest
from master_album import make_album, run_master
from music_fixtures import song
from mutagen.id3 import ID3

from albumgen.config import parse_config
from albumgen.engine.runner import make_context

# Listed so that neighbours clash (C major, F# major: 6 steps apart) and tempos jump.
TAKES = [("Alpha", 0, "major", 120.0), ("Beta", 6, "major", 90.0), ("Gamma", 7, "major", 124.0),
         ("Delta", 1, "major", 92.0)]


def _stereo(x):
    return np.stack([x, x], axis=1).astype(np.float32)


@pytest.fixture(scope="module")
def album(tmp_path_factory):
    takes = [(title, _stereo(song(tonic, mode, bpm, 10.0, seed=i))) for i, (title, tonic, mode, bpm) in enumerate(TAKES)]
    ctx = make_album(tmp_path_factory.mktemp("sequence"), takes)
    run_master(ctx)
    return ctx


def _with_order(ctx, mode: str):
    data = ctx.config.model_dump(mode="json")
    data["album"]["order"] = mode
    return make_context(parse_config(data), ctx.base_dir, "pipeline.yaml", progress=False)


def test_as_listed_never_reorders(album):
    order = album.manifest.record("sequence", "order").data
    assert order["mode"] == "as_listed" and order["order"] == ["t01", "t02", "t03", "t04"]
    assert [album.manifest.record("master", f"t0{i}").data["file"] for i in range(1, 5)] == \
        ["01 - Alpha.mp3", "02 - Beta.mp3", "03 - Gamma.mp3", "04 - Delta.mp3"]
    keys = {tid: album.manifest.record("sequence", tid).data["key"] for tid in ("t01", "t02", "t03", "t04")}
    assert keys == {"t01": "C major", "t02": "F# major", "t03": "G major", "t04": "C# major"}


def test_flow_renumbers_files_tags_playlist_and_album_json(album):
    ctx = _with_order(album, "flow")
    ran = run_master(ctx)
    order = ctx.manifest.record("sequence", "order").data
    assert order["mode"] == "flow" and order["cost"]["chosen"] < order["cost"]["listed"]
    # Compatible keys meet: C-G (8B-9B) and F#-C# (2B-3B) are Camelot neighbours.
    pairs = {frozenset(p) for p in zip(order["order"], order["order"][1:])}
    assert frozenset({"t01", "t03"}) in pairs and frozenset({"t02", "t04"}) in pairs
    assert set(ran) >= {"t01", "t02", "t03", "t04", "album"}
    titles = {"t01": "Alpha", "t02": "Beta", "t03": "Gamma", "t04": "Delta"}
    files = [f"{n:02d} - {titles[tid]}.mp3" for n, tid in enumerate(order["order"], 1)]
    for n, (tid, name) in enumerate(zip(order["order"], files), 1):
        rec = ctx.manifest.record("master", tid).data
        assert rec["file"] == name and rec["n"] == n
        assert str(ID3(ctx.album_dir / name)["TRCK"]) == f"{n}/4"
    assert sorted(p.name for p in ctx.album_dir.glob("*.mp3")) == sorted(files)  # old names gone
    playlist = (ctx.album_dir / "test-album.m3u8").read_text("utf-8").splitlines()
    assert [line for line in playlist if line.endswith(".mp3")] == files
    data = json.loads((ctx.album_dir / "album.json").read_text("utf-8"))
    assert data["order"]["mode"] == "flow" and [t["file"] for t in data["tracklist"]] == files
    assert data["tracklist"][0]["order_why"].startswith("opener:")
    assert "Camelot neighbours" in " ".join(t["order_why"] for t in data["tracklist"])
    # Back to as_listed: analysis is not redone, only the order and master.
    back = _with_order(album, "as_listed")
    n = len(back.manifest.events())
    run_master(back)
    redone = [e["unit"] for e in back.manifest.events()[n:] if e["event"] == "unit_done" and e["stage"] == "sequence"]
    assert redone == ["order"]


@pytest.mark.slow  # a child process that imports the analysis stack
def test_a_worker_warms_up_the_analysis_before_its_first_unit():
    """registry.warm() runs in each worker as it starts (both executors): sequence's first
    analysis there must not pay librosa's import and numba's compile after its track's pick."""
    import subprocess
    import sys

    code = ("import sys; from albumgen import registry; before = 'librosa' in sys.modules; registry.warm(); "
            "print(before, 'librosa' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "True"]
