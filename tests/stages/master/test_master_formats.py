"""Album mode, FLAC, VBR V0, a user's cover, mono takes."""
from __future__ import annotations

import io

import numpy as np
import pytest
from master_album import (
    SR,
    decoded_frames,
    ebur128,
    make_album,
    music,
    reconfigure,
    retitle,
    run_master,
    variant,
)
from mutagen.flac import FLAC
from mutagen.id3 import ID3
from mutagen.mp3 import MP3, BitrateMode
from PIL import Image

from albumgen.errors import InputError
from albumgen.stages.master.encode import decode


def test_album_mode_keeps_relative_loudness(tmp_path):
    ctx = make_album(tmp_path, [("Big", variant("loud", 1) * 0.5), ("Small", variant("loud", 2) * 0.25)],
                     master={"album_mode": True, "loudness": -18.0})
    assert run_master(ctx) == ["analysis", "cover", "t01", "t02", "album"]
    big, small = (ebur128(ctx.album_dir / name) for name in ("01 - Big.mp3", "02 - Small.mp3"))
    before = ctx.manifest.record("master", "analysis").data
    apart = before["tracks"]["t01"]["loudness"] - before["tracks"]["t02"]["loudness"]
    assert apart > 6.0
    assert abs((big[0] - small[0]) - apart) < 0.3  # one gain for both: as far apart after as before
    assert abs(before["album_loudness"] - -18.0) < 0.01 and big[1] <= -1.0
    assert big[0] > -18.0 > small[0]
    txxx = {f.desc: str(f) for f in ID3(ctx.album_dir / "02 - Small.mp3").getall("TXXX")}
    assert txxx["REPLAYGAIN_ALBUM_GAIN"] == f"{-18 - before['album_loudness']:+.2f} dB" == "+0.00 dB"
    assert float(txxx["REPLAYGAIN_TRACK_GAIN"].split()[0]) > 3.5  # the small track alone is quiet

    retitle(ctx, 1, "Bigger")  # titles are not part of the analysis: one track re-runs
    assert run_master(ctx) == ["t01", "album"]
    track_mode = reconfigure(ctx, album_mode=False)
    assert run_master(track_mode) == ["t01", "t02", "album"]
    assert track_mode.manifest.record("master", "analysis") is None
    assert not (ctx.album_dir / "manifest/master/analysis.json").exists()


def test_flac_with_vorbis_comments_and_picture(tmp_path):
    ctx = make_album(tmp_path, [("Fl", variant("clipped", 4))], master={"format": "flac"})
    run_master(ctx)
    path = ctx.album_dir / "01 - Fl.flac"
    f = FLAC(path)
    assert f.info.sample_rate == 44100 and f.info.bits_per_sample == 24 and f.info.channels == 2
    tags = {k: v for k, v in f.tags}
    assert {k: tags[k] for k in ("TITLE", "ARTIST", "ALBUM", "ALBUMARTIST", "TRACKNUMBER", "TRACKTOTAL",
                                 "DISCNUMBER", "DISCTOTAL", "DATE", "GENRE", "COMMENT", "ALBUMGEN_SEED",
                                 "ALBUMGEN_TAKE", "ALBUMGEN_SCORE", "REPLAYGAIN_ALBUM_GAIN")} == {
        "TITLE": "Fl", "ARTIST": "Tester", "ALBUM": "Test Album", "ALBUMARTIST": "Tester", "TRACKNUMBER": "1",
        "TRACKTOTAL": "1", "DISCNUMBER": "1", "DISCTOTAL": "1", "DATE": "2026", "GENRE": "Ambient",
        "COMMENT": "prompt 1: chords, noise, 120 bpm", "ALBUMGEN_SEED": "1001", "ALBUMGEN_TAKE": "1",
        "ALBUMGEN_SCORE": "0.6", "REPLAYGAIN_ALBUM_GAIN": "-4.00 dB"}
    assert not any(k.upper() == "ENCODER" for k in tags)  # ffmpeg's own tag is gone
    [pic] = f.pictures
    assert pic.type == 3 and (pic.width, pic.height) == (1000, 1000)
    assert Image.open(io.BytesIO(pic.data)).size == (1000, 1000)
    lufs, peak = ebur128(path)
    assert abs(lufs - -14.0) <= 0.5 and peak <= -1.0
    assert decoded_frames(path) == ctx.manifest.record("master", "t01").data["frames"]


def test_vbr_v0_and_a_user_cover(tmp_path):
    art = np.zeros((800, 1200, 3), dtype=np.uint8)
    art[:, :, 2] = 255
    art[:, 200:1000] = (255, 0, 0)  # the centre square is red; the sides are cropped away
    Image.fromarray(art).save(tmp_path / "art.png")
    ctx = make_album(tmp_path, [("Vee", variant("loud", 5))], master={"bitrate": "V0", "cover": "art.png"})
    run_master(ctx)
    path = ctx.album_dir / "01 - Vee.mp3"
    assert MP3(path).info.bitrate_mode == BitrateMode.VBR
    lufs, peak = ebur128(path)
    assert abs(lufs - -14.0) <= 0.5 and peak <= -1.0
    cover = Image.open(ctx.album_dir / "cover.jpg")
    assert cover.size == (3000, 3000)
    for xy in ((5, 5), (2995, 2995), (1500, 1500)):
        r, g, b = cover.getpixel(xy)
        assert r > 240 and g < 15 and b < 15
    embedded = Image.open(io.BytesIO(ID3(path).getall("APIC")[0].data))
    assert embedded.size == (1000, 1000)

    (tmp_path / "art.png").write_bytes((tmp_path / "art.png").read_bytes() + b"\0")  # a changed file
    assert run_master(ctx) == ["cover", "t01", "album"]


def test_a_missing_user_cover_is_named(tmp_path):
    ctx = make_album(tmp_path, [("X", variant("loud", 1, 1.0))], master={"cover": "nope.jpg"})
    with pytest.raises(InputError) as e:
        run_master(ctx)
    assert str(e.value) == "master.cover: nope.jpg not found (check the path; it is relative to the pipeline file)"


def test_a_mono_take_becomes_dual_mono(tmp_path):
    ctx = make_album(tmp_path, [("Mono", music(2.0, seed=3, channels=1))])
    run_master(ctx)
    audio, sr = decode(ctx.album_dir / "01 - Mono.mp3")
    assert sr == 44100 and audio.shape == (2 * 44100, 2)
    assert np.abs(audio[:, 0] - audio[:, 1]).max() < 1e-3
    assert abs(ebur128(ctx.album_dir / "01 - Mono.mp3")[0] - -14.0) <= 0.5


def test_silence_is_trimmed_before_mastering(tmp_path):
    take = np.concatenate([np.zeros((SR, 2)), music(2.0, seed=4), np.zeros((SR // 2, 2))]).astype(np.float32)
    ctx = make_album(tmp_path, [("Gaps", take)])
    run_master(ctx)
    rec = ctx.manifest.record("master", "t01").data
    assert abs(rec["duration"] - 2.0) <= 0.03  # 1 s before and 0.5 s after are gone, 10 ms pads kept
    assert decoded_frames(ctx.album_dir / rec["file"]) == rec["frames"]


def test_a_silent_take_is_encoded_without_replaygain(tmp_path):
    ctx = make_album(tmp_path, [("Hush", np.zeros((SR * 2, 2), dtype=np.float32))])
    run_master(ctx)
    rec = ctx.manifest.record("master", "t01").data
    assert rec["loudness"] is None and rec["replaygain"] == {} and rec["frames"] == 2 * 44100
    assert not any(f.desc.startswith("REPLAYGAIN") for f in ID3(ctx.album_dir / "01 - Hush.mp3").getall("TXXX"))
