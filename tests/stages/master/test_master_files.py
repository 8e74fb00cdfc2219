"""What lands in the album folder: hostile titles stay inside it, and edits re-run only
what they touch (the runner removes files no record claims any more)."""
from __future__ import annotations

import json
import os

from master_album import ebur128, make_album, reconfigure, retitle, run_master, variant
from mutagen.id3 import ID3

HOSTILE = ["../../x", "nul\x00byte", "y" * 300, "Piano 🎹 Nights ✨", "CON", "a.", "../../x"]


def test_hostile_titles_stay_inside_the_album_folder(tmp_path):
    ctx = make_album(tmp_path, [(t, variant("loud", i, seconds=1.0)) for i, t in enumerate(HOSTILE)],
                     album_title="../../../etc/passwd\n#EXTM3U")
    assert run_master(ctx)[-1] == "album"
    expected = ["01 - x.mp3", "02 - nul byte.mp3", f"03 - {'y' * 120}.mp3", "04 - Piano 🎹 Nights ✨.mp3",
                "05 - CON.mp3", "06 - a.mp3", "07 - x.mp3"]
    files = sorted(p.name for p in ctx.album_dir.glob("*.mp3"))
    assert files == sorted(expected)
    # Everything written is under the album folder; nothing appeared beside it.
    assert sorted(os.listdir(tmp_path)) == ["albums"] and sorted(os.listdir(tmp_path / "albums")) == ["test-album"]
    for rec in ctx.manifest.records("master"):
        for rel in rec.outputs:
            assert (ctx.album_dir / rel).resolve().is_relative_to(ctx.album_dir)
    titles = [str(ID3(ctx.album_dir / name)["TIT2"]) for name in expected]
    assert titles == ["../../x", "nul byte", "y" * 300, "Piano 🎹 Nights ✨", "CON", "a.", "../../x"]
    assert str(ID3(ctx.album_dir / expected[0])["TALB"]) == "../../../etc/passwd #EXTM3U"
    playlist = (ctx.album_dir / "test-album.m3u8").read_text("utf-8").splitlines()
    assert playlist[:4] == ["#EXTM3U", "#PLAYLIST:../../../etc/passwd #EXTM3U", "#EXTINF:1,Tester - ../../x",
                            "01 - x.mp3"]
    assert [line for line in playlist if not line.startswith("#")] == expected
    assert len(playlist) == 2 + 2 * len(HOSTILE)


def test_edits_rerun_only_what_they_touch(tmp_path):
    ctx = make_album(tmp_path, [("First", variant("loud", 1, 1.5)), ("Second", variant("quiet", 2, 1.5))])
    assert run_master(ctx) == ["cover", "t01", "t02", "album"]
    first = (ctx.album_dir / "01 - First.mp3").stat().st_mtime_ns

    retitle(ctx, 2, "Second, Renamed")
    assert run_master(ctx) == ["t02", "album"]
    assert sorted(p.name for p in ctx.album_dir.glob("*.mp3")) == ["01 - First.mp3", "02 - Second, Renamed.mp3"]
    assert (ctx.album_dir / "01 - First.mp3").stat().st_mtime_ns == first
    assert json.loads((ctx.album_dir / "album.json").read_text())["tracklist"][1]["title"] == "Second, Renamed"

    quieter = reconfigure(ctx, loudness=-16.0)
    assert run_master(quieter) == ["t01", "t02", "album"]  # the cover does not hang on loudness
    assert abs(ebur128(ctx.album_dir / "01 - First.mp3")[0] - -16.0) <= 0.5

    flac = reconfigure(quieter, format="flac")
    assert run_master(flac) == ["t01", "t02", "album"]
    assert sorted(p.name for p in ctx.album_dir.iterdir() if p.is_file()) == [
        "01 - First.flac", "02 - Second, Renamed.flac", "album.json", "cover.jpg", "test-album.m3u8"]


def test_a_deleted_output_is_remade(tmp_path):
    ctx = make_album(tmp_path, [("Only", variant("loud", 1, 1.0))])
    run_master(ctx)
    (ctx.album_dir / "01 - Only.mp3").unlink()
    assert run_master(ctx) == ["t01"]
    assert (ctx.album_dir / "01 - Only.mp3").is_file()
