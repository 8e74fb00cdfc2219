"""Documented claims about mastering (docs/configuration.md, master) that had no test of their own: the second encode when the
encoder pushed a peak over, the 12 dB cap on extra gain and its warning, album mode's
"any changed take re-masters every track", and the limiter's 40 dB/s release. Through
the real runner on synthetic takes (the release on the limiter's own gain curve)."""
from __future__ import annotations

import logging

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from master_album import SR, ebur128, make_album, music, run_master, variant

from albumgen.engine.store import atomic

FLAT = {"fade_in": 0, "fade_out": 0, "trim": False}  # the take reaches the leveller as written


def test_an_encoder_over_is_encoded_again(tmp_path):
    """Clipped material pushed to -6 LUFS at 128 kbit/s: LAME's quantisation lifts the
    limited peaks past the 0.5 dB margin, so the decoded file reads over the ceiling and
    the track is limited deeper and encoded again, until the file itself is under it."""
    ctx = make_album(tmp_path, [("Hot", variant("clipped", 1))], master={**FLAT, "bitrate": "128k", "loudness": -6})
    run_master(ctx)
    rec = ctx.manifest.record("master", "t01").data
    assert rec["true_peak"] <= -1.0 - 0.1  # our meter, on the decoded file, with its guard
    assert ebur128(ctx.album_dir / rec["file"])[1] <= -1.0  # and ffmpeg's
    assert rec["encodes"] >= 2  # the first encode was over: that is what this test is about


def clicks(seconds: float = 3.0) -> np.ndarray:
    """A faint tone under 3 ms bursts ten times a second: almost all of its loudness is in
    the bursts, so limiting them takes the loudness with it and more gain barely helps.
    The secant steps here pass +12 dB between two steps, so only the cap itself stops the
    gain there (without it the gain ends at +15.5 dB, measured)."""
    t = np.arange(int(SR * seconds)) / SR
    x = np.repeat((0.0005 * np.sin(2 * np.pi * 220 * t))[:, None], 2, axis=1).astype(np.float32)
    for i in range(0, len(x), SR // 10):
        x[i:i + 96] = 0.9
    return x


def test_extra_gain_stops_at_12_db_with_a_warning(tmp_path, caplog):
    ctx = make_album(tmp_path, [("Clicks", clicks())], master=FLAT)
    with caplog.at_level(logging.WARNING, logger="albumgen"):
        run_master(ctx)
    rec = ctx.manifest.record("master", "t01").data
    plain = -14.0 - pyloudnorm.Meter(SR).integrated_loudness(clicks().astype(np.float64))
    assert abs(rec["gain_db"] - (plain + 12.0)) < 0.01  # exactly the cap over plain normalisation
    assert rec["loudness"] < -14.0 - 0.5 and rec["true_peak"] <= -1.0
    warned = [r.getMessage() for r in caplog.records if "under the -14.0 target" in r.getMessage()]
    assert len(warned) == 1 and warned[0].endswith("more would need over 12 dB of limiting")
    assert f"{rec['loudness']:.1f} LUFS" in warned[0]


def replace_take(ctx, n: int, audio: np.ndarray) -> None:
    """A new take for track n, picked: what a re-render or a hand pick leaves in the manifest."""
    tid = f"t{n:02d}"
    wav = ctx.album_dir / f"manifest/takes/{tid}/take-2.wav"
    with atomic.atomic_path(wav) as tmp:
        sf.write(str(tmp), audio, SR, subtype="FLOAT", format="WAV")
    old = ctx.manifest.record("render", f"{tid}/take-1").data
    ctx.manifest.commit(f"render-{tid}-2", "render", f"{tid}/take-2", [wav], {**old, "seed": 2000 + n})
    ctx.manifest.commit(f"pick-{tid}-2", "pick", tid, [], {"choice": 2, "wav": wav.relative_to(ctx.album_dir).as_posix(),
                                                          "score": 0.9, "all_rejected": False})


def test_album_mode_a_changed_take_remasters_every_track(tmp_path):
    ctx = make_album(tmp_path, [("One", variant("loud", 1, 1.5) * 0.5), ("Two", variant("loud", 2, 1.5) * 0.3),
                                ("Three", variant("loud", 3, 1.5) * 0.2)], master={"album_mode": True})
    assert run_master(ctx) == ["analysis", "cover", "t01", "t02", "t03", "album"]
    gain = ctx.manifest.record("master", "analysis").data["gain_db"]
    files = {n: (ctx.album_dir / f"0{n} - {t}.mp3").read_bytes() for n, t in ((1, "One"), (3, "Three"))}

    replace_take(ctx, 2, music(1.5, seed=9) * 0.9)  # a much louder take of track 2
    assert run_master(ctx) == ["analysis", "t01", "t02", "t03", "album"]
    new_gain = ctx.manifest.record("master", "analysis").data["gain_db"]
    assert new_gain < gain - 1.0  # the album got louder, so every track comes down
    for n, t in ((1, "One"), (3, "Three")):  # untouched tracks, re-mastered at the new gain
        assert (ctx.album_dir / f"0{n} - {t}.mp3").read_bytes() != files[n]
        assert abs(ctx.manifest.record("master", f"t0{n}").data["gain_db"] - new_gain) < 1e-3


def test_the_limiter_releases_at_40_db_per_second():
    """docs: 5 ms look-ahead, 40 dB/s release. After one spike the attenuation falls in a
    straight line, 2 dB per 50 ms, instead of snapping back (which pumps on real music)."""
    from albumgen.stages.master import limiter, loudness

    sr = 44100
    x = np.full((sr, 2), 0.1, dtype=np.float32)
    x[sr // 4] = 1.0
    att = limiter.gain_curve_db(loudness.peak_envelope(x), sr, -6.0)
    peak = float(att.max())
    assert peak >= 6.0
    after = lambda s: float(att[sr // 4 + int(s * sr)])  # noqa: E731
    for s in (0.025, 0.05, 0.1):
        assert after(s) == pytest.approx(peak - 40.0 * s, abs=0.25), s
    assert after(peak / 40.0 + 0.02) == 0.0  # and then it is fully open again
