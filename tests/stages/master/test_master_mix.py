"""The continuous mix: its cue sheet parses back and marks where each track really starts,
the mix meets the loudness target, and it is tagged as a release of its own with its own
ReplayGain."""
from __future__ import annotations

import re

import numpy as np
import pytest
from master_album import ebur128, make_album, run_master
from music_fixtures import song

from albumgen.audio.ffmpeg import decode
from albumgen.stages.master import mix

TAKES = [("One", 0, "major", 120.0), ("Two", 7, "major", 100.0), ("Three", 9, "minor", 128.0)]


@pytest.fixture(scope="module")
def album(tmp_path_factory):
    takes = [(t, np.stack([x, x], axis=1).astype(np.float32))
             for t, x in ((t, song(k, m, b, 8.0, seed=i)) for i, (t, k, m, b) in enumerate(TAKES))]
    ctx = make_album(tmp_path_factory.mktemp("mix"), takes, master={"mix": True, "crossfade": 2.0})
    run_master(ctx)
    return ctx


def parse_cue(text: str) -> tuple[str, list[tuple[str, float]]]:
    """(FILE name, [(track title, INDEX 01 in seconds)]), read the way a player reads it."""
    file = re.search(r'^FILE "(.*)" (MP3|WAVE)$', text, re.M).group(1)
    tracks = []
    for block in re.split(r"^  TRACK \d\d AUDIO$", text, flags=re.M)[1:]:
        title = re.search(r'^    TITLE "(.*)"$', block, re.M).group(1)
        mm, ss, ff = map(int, re.search(r"^    INDEX 01 (\d\d):(\d\d):(\d\d)$", block, re.M).groups())
        tracks.append((title, mm * 60 + ss + ff / 75))
    return file, tracks


def _start_in(mixed: np.ndarray, track: np.ndarray, guess: int, sr: int, skip: float) -> float:
    """Where `track` begins in the mix, by cross-correlating a stretch of it past the
    crossfade (where only this track plays) around the guess."""
    a, n = int(skip * sr), int(1.0 * sr)
    probe = track[a:a + n, 0]
    lo = max(0, guess + a - sr // 2)
    region = mixed[lo:guess + a + n + sr // 2, 0]
    corr = np.correlate(region, probe, mode="valid")
    # Normalised by the energy under the probe: a louder stretch must not win by level.
    energy = np.sqrt(np.convolve(region ** 2, np.ones(len(probe)), mode="valid")) + 1e-12
    return (lo + int(np.argmax(corr / energy)) - a) / sr


def test_cue_sheet_parses_back_and_matches_the_track_starts(album):
    rec = album.manifest.record("master", "mix").data
    cue = (album.album_dir / rec["cue"]).read_text("utf-8")
    file, tracks = parse_cue(cue)
    assert file == rec["file"] == "Test Album (continuous mix).mp3"
    assert [t for t, _ in tracks] == ["One", "Two", "Three"] and tracks[0][1] == 0.0
    mixed, sr = decode(album.album_dir / file, channels=2)
    for n, (title, at) in enumerate(tracks[1:], 2):
        own, _ = decode(album.album_dir / album.manifest.record("master", f"t0{n}").data["file"], channels=2)
        found = _start_in(mixed, own, int(at * sr), sr, skip=rec["crossfades"][n - 2] + 0.5)
        assert abs(found - at) <= 1 / 75, title
    # Tempo-aware: 2 s at 120 bpm is 4 beats; at 100 bpm 3.33 beats round to 3 (1.8 s).
    assert rec["crossfades"] == [pytest.approx(2.0, abs=0.02), pytest.approx(1.8, abs=0.02)]


def test_mix_meets_the_loudness_target(album):
    rec = album.manifest.record("master", "mix").data
    lufs, peak = ebur128(album.album_dir / rec["file"])
    assert abs(lufs - -14.0) <= 0.5 and peak <= -1.0


def test_album_json_names_the_mix_and_tracks_are_untouched(album):
    import json

    data = json.loads((album.album_dir / "album.json").read_text("utf-8"))
    assert data["mix"]["file"] == "Test Album (continuous mix).mp3" and data["mix"]["cue"].endswith(".cue")
    assert sorted(p.name for p in album.album_dir.glob("0*.mp3")) == ["01 - One.mp3", "02 - Two.mp3", "03 - Three.mp3"]


def test_the_mix_is_its_own_release_with_its_own_replaygain(album):
    """A music library groups by album tag: tagged with the album's title, the mix would show
    as a second "track 1" of the album. Its ReplayGain is its own loudness, read back with
    mutagen and held to ffmpeg's meter."""
    from mutagen.id3 import ID3

    rec = album.manifest.record("master", "mix").data
    tags = ID3(album.album_dir / rec["file"])
    assert str(tags["TALB"]) == str(tags["TIT2"]) == "Test Album (continuous mix)" == rec["album"]
    assert str(tags["TRCK"]) == "1/1" and str(tags["TPOS"]) == "1/1"
    lufs, peak = ebur128(album.album_dir / rec["file"])
    gain = float(str(tags["TXXX:REPLAYGAIN_TRACK_GAIN"]).removesuffix(" dB"))
    assert gain == pytest.approx(-18.0 - rec["loudness"], abs=0.006)
    assert gain == pytest.approx(-18.0 - lufs, abs=0.2)
    linear = float(str(tags["TXXX:REPLAYGAIN_TRACK_PEAK"]))
    assert linear == pytest.approx(10 ** (rec["true_peak"] / 20), rel=1e-4) and linear <= 10 ** (-1.0 / 20)
    assert str(tags["TXXX:REPLAYGAIN_ALBUM_GAIN"]) == str(tags["TXXX:REPLAYGAIN_TRACK_GAIN"])
    # The album's own tracks stay the album: three tracks of "Test Album", one of each number.
    tracks = [ID3(p) for p in sorted(album.album_dir.glob("0*.mp3"))]
    assert [(str(t["TALB"]), str(t["TRCK"])) for t in tracks] == [("Test Album", f"{n}/3") for n in (1, 2, 3)]


def test_cue_time_rounds_to_cd_frames():
    assert mix.cue_time(0, 44100) == "00:00:00"
    assert mix.cue_time(44100 * 61 + 44100 // 75 * 3, 44100) == "01:01:03"
