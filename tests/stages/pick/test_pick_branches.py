"""Each branch of a check is the only trigger for one fixture, so disabling any one branch
fails a test. Scored through `albumgen score --json`, the picker's public entry point.

- silence, trailing branch: music that fades out and then stays silent for its last
  third; overall silence stays under max_silence, so only the silent tail can reject it.
- noise, tonal branch: noise low-passed at 1 kHz (a rumble); its spectrum falls steeply,
  so its floor sits far under the mean (flatness_db ~-22, the threshold is -9) and only
  its lack of tonal peaks (tonal_share ~0.017) marks it as noise. Random noise always
  has a few chance peaks, so its tonal_share sits close to the 0.02 default: the test
  sets min_tonal_share to 0.05 (music measures ~0.3) to keep a wide margin both ways.
"""
from __future__ import annotations

import json

import audio_fixtures as F
import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner
from helpers import write_pipeline

from albumgen.cli import main


def silent_tail(seconds: float = 6.0, tail: float = 0.35) -> np.ndarray:
    """Music with a 0.5 s fade, then digital silence for the last `tail` of the take."""
    x = F.music(seconds=seconds)
    end = int(len(x) * (1 - tail))
    fade = int(0.5 * F.SR)
    x[end - fade:end] *= np.linspace(1.0, 0.0, fade)
    x[end:] = 0.0
    return x


def rumble(seconds: float = 6.0, seed: int = 5) -> np.ndarray:
    from scipy import signal

    b, a = signal.butter(2, 1000 / (F.SR / 2))
    x = signal.lfilter(b, a, np.random.default_rng(seed).standard_normal(int(F.SR * seconds)))
    return 0.5 * x / np.max(np.abs(x))


def score(tmp_path, takes: dict[str, np.ndarray], *options: str) -> dict[str, dict]:
    paths = []
    for name, audio in takes.items():
        paths.append(tmp_path / f"{name}.wav")
        sf.write(paths[-1], audio, F.SR, subtype="FLOAT")
    r = CliRunner().invoke(main, ["score", "--json", *options, *map(str, paths)])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    return {f["file"].rsplit("/", 1)[-1][:-4]: {**f, "picked_file": report["picked"]} for f in report["files"]}


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    folder = tmp_path_factory.mktemp("branches")
    pipeline = write_pipeline(folder, {"pick": {"min_tonal_share": 0.05}})
    return score(folder, {"clean": F.music(), "tail": silent_tail(), "rumble": rumble()}, "--pipeline", str(pipeline))


def test_a_silent_tail_alone_rejects_a_take(scored):
    f = scored["tail"]
    assert f["features"]["silence"] < 0.4  # under max_silence: the other branch cannot fire
    assert f["features"]["trailing_silence"] > 0.25
    assert [r for r in f["rejects"] if r.startswith("silence:")] == [
        f"silence: ends in silence for the last {f['features']['trailing_silence']:.0%}"]
    assert not scored["clean"]["rejects"] and scored["clean"]["picked"]


def test_tonal_share_alone_marks_noise(scored):
    f = scored["rumble"]
    assert f["features"]["flatness_db"] < -9.0 - 6  # far from the flatness branch's threshold
    assert f["features"]["tonal_share"] < 0.05 / 2
    assert scored["clean"]["features"]["tonal_share"] > 0.05 * 2
    assert "noise" in f["checks"] and any(r.startswith("noise: noise-like") for r in f["rejects"])
    assert f["picked_file"].endswith("clean.wav")
