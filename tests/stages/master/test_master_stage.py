"""master through the real runner, on synthetic takes: loudness and true peak by ffmpeg's
own meter, durations, every tag read back by mutagen, playlist and album.json."""
from __future__ import annotations

import json

import numpy as np
import pytest
from master_album import decoded_frames, ebur128, make_album, run_master, variant
from mutagen.id3 import ID3
from mutagen.mp3 import MP3
from PIL import Image

KINDS = ["quiet", "loud", "clipped", "overs"]


@pytest.fixture(scope="module")
def album(tmp_path_factory):
    ctx = make_album(tmp_path_factory.mktemp("master"), [(k.title(), variant(k, seed=i)) for i, k in enumerate(KINDS)])
    ran = run_master(ctx)
    return ctx, ran


def test_units_and_files(album):
    ctx, ran = album
    assert ran == ["cover", "t01", "t02", "t03", "t04", "album"]
    names = sorted(p.name for p in ctx.album_dir.iterdir() if p.is_file())
    assert names == ["01 - Quiet.mp3", "02 - Loud.mp3", "03 - Clipped.mp3", "04 - Overs.mp3", "album.json",
                     "cover.jpg", "test-album.m3u8"]
    assert run_master(ctx) == []  # nothing changed: nothing runs again


@pytest.mark.parametrize("n, kind", list(enumerate(KINDS, 1)))
def test_loudness_and_true_peak_by_ebur128(album, n, kind):
    ctx, _ = album
    lufs, peak = ebur128(ctx.album_dir / f"{n:02d} - {kind.title()}.mp3")
    assert abs(lufs - -14.0) <= 0.5
    assert peak <= -1.0
    rec = ctx.manifest.record("master", f"t{n:02d}").data
    assert abs(rec["loudness"] - -14.0) < 0.1 and rec["true_peak"] <= -1.1


def test_durations_match_the_mastered_audio(album):
    ctx, _ = album
    for n in range(1, 5):
        rec = ctx.manifest.record("master", f"t{n:02d}").data
        path = ctx.album_dir / rec["file"]
        # No silence to trim: the track is the take up to its ending.
        assert rec["ending"]["at"] <= 3.0 and rec["frames"] == round(rec["ending"]["at"] * 44100)
        assert abs(decoded_frames(path) - rec["frames"]) <= 0.05 * 44100
        assert abs(MP3(path).info.length - rec["duration"]) <= 0.05


def test_tags_read_back(album):
    ctx, _ = album
    path = ctx.album_dir / "03 - Clipped.mp3"
    id3 = ID3(path)
    assert id3.version == (2, 4, 0)
    text = {k: str(id3[k]) for k in ("TIT2", "TPE1", "TALB", "TPE2", "TRCK", "TPOS", "TDRC", "TCON")}
    assert text == {"TIT2": "Clipped", "TPE1": "Tester", "TALB": "Test Album", "TPE2": "Tester", "TRCK": "3/4",
                    "TPOS": "1/1", "TDRC": "2026", "TCON": "Ambient"}
    assert [str(c) for c in id3.getall("COMM")] == ["prompt 3: chords, noise, 120 bpm"]
    rec = ctx.manifest.record("master", "t03").data
    txxx = {f.desc: str(f) for f in id3.getall("TXXX")}
    assert txxx == {"albumgen_seed": "1003", "albumgen_model": "synthetic", "albumgen_revision": "r1",
                    "albumgen_take": "1", "albumgen_score": "0.8",
                    "REPLAYGAIN_TRACK_GAIN": f"{-18 - rec['loudness']:+.2f} dB",
                    "REPLAYGAIN_TRACK_PEAK": f"{10 ** (rec['true_peak'] / 20):.6f}",
                    "REPLAYGAIN_ALBUM_GAIN": "-4.00 dB", "REPLAYGAIN_ALBUM_PEAK": "0.891251"}
    assert abs(float(txxx["REPLAYGAIN_TRACK_GAIN"].split()[0]) - -4.0) < 0.1  # -18 LUFS reference, -14 target
    [apic] = id3.getall("APIC")
    assert apic.type == 3 and apic.mime == "image/jpeg"
    import io

    assert Image.open(io.BytesIO(apic.data)).size == (1000, 1000)
    assert len(apic.data) < 400_000
    assert MP3(path).info.bitrate == 320000 and MP3(path).info.sample_rate == 44100 and MP3(path).info.channels == 2


def test_cover_playlist_and_album_json(album):
    ctx, _ = album
    assert Image.open(ctx.album_dir / "cover.jpg").size == (3000, 3000)
    assert (ctx.album_dir / "test-album.m3u8").read_text("utf-8") == (
        "#EXTM3U\n#PLAYLIST:Test Album\n"
        "#EXTINF:3,Tester - Quiet\n01 - Quiet.mp3\n#EXTINF:3,Tester - Loud\n02 - Loud.mp3\n"
        "#EXTINF:3,Tester - Clipped\n03 - Clipped.mp3\n#EXTINF:3,Tester - Overs\n04 - Overs.mp3\n")
    data = json.loads((ctx.album_dir / "album.json").read_text("utf-8"))
    assert data["album"] == "Test Album" and data["duration"] == 12.0 and data["mastering"]["loudness"] == -14.0
    assert [(t["n"], t["id"], t["title"], t["file"], t["duration"], t["seed"], t["score"], t["take"], t["model"])
            for t in data["tracklist"]] == [
        (1, "t01", "Quiet", "01 - Quiet.mp3", 3.0, 1001, 0.6, 1, "synthetic"),
        (2, "t02", "Loud", "02 - Loud.mp3", 3.0, 1002, 0.7, 1, "synthetic"),
        (3, "t03", "Clipped", "03 - Clipped.mp3", 3.0, 1003, 0.8, 1, "synthetic"),
        (4, "t04", "Overs", "04 - Overs.mp3", 3.0, 1004, 0.9, 1, "synthetic")]
    assert data["tracklist"][0]["prompt"] == "prompt 1: chords, noise, 120 bpm"
    # as_listed by default: the order, and why, and what sequence heard in each take
    assert data["order"]["mode"] == "as_listed"
    assert all(t["order_why"] == "as listed (album.order: as_listed)" for t in data["tracklist"])
    assert all(t["key"] and t["camelot"] and t["ending"]["kind"] in ("cut", "fade") for t in data["tracklist"])


def test_a_generated_cover_depends_on_the_album_not_the_audio(tmp_path):
    from albumgen.stages.master.cover import generated_cover

    a = np.asarray(generated_cover("Night Drive", "Tester", 1).resize((64, 64)), dtype=float)
    b = np.asarray(generated_cover("Night Drive", "Tester", 1).resize((64, 64)), dtype=float)
    c = np.asarray(generated_cover("Day Walk", "Tester", 1).resize((64, 64)), dtype=float)
    assert np.array_equal(a, b) and np.abs(a - c).mean() > 5


def _unpick(ctx, tid: str) -> dict:
    rec = ctx.manifest.record("pick", tid)
    ctx.manifest.drop("pick", tid)
    return rec.data


@pytest.mark.parametrize("order", ["as_listed", "flow"])
def test_a_track_is_mastered_before_later_tracks_are_picked(tmp_path, order):
    """As listed, a track's number is known from the tracklist: t01 and t02 are analysed and
    mastered while t03 waits on its pick, and only t03 and the album files are left for when
    it comes. A flow order needs every track first: nothing is mastered early."""
    ctx = make_album(tmp_path, [(k.title(), variant(k, seed=i)) for i, k in enumerate(KINDS[:3])],
                     album={"order": order})
    pick = _unpick(ctx, "t03")
    early = run_master(ctx)
    if order == "flow":
        assert early == []
    else:
        assert early == ["cover", "t01", "t02"]
        assert sorted(p.name for p in ctx.album_dir.glob("*.mp3")) == ["01 - Quiet.mp3", "02 - Loud.mp3"]
        assert not (ctx.album_dir / "album.json").exists()
    ctx.manifest.commit("pick-t03", "pick", "t03", [], pick)
    rest = run_master(ctx)
    if order == "as_listed":
        assert rest == ["t03", "album"]  # t01 and t02 were not mastered again
    else:  # in the flow order, whatever it came out as
        assert sorted(rest) == ["album", "cover", "t01", "t02", "t03"] and rest[-1] == "album"
    assert len(json.loads((ctx.album_dir / "album.json").read_text("utf-8"))["tracklist"]) == 3
    assert run_master(ctx) == []
