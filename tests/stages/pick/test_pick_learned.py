"""Learned scorers: skipped with a reason when their weights are not here (never a
download), and used when they are: a tiny random CLAP built in code stands in for
laion/larger_clap_music, so the real loading and windowing code runs offline."""
from __future__ import annotations

import audio_fixtures as F
import pytest
from clap import tiny_clap

from albumgen.stages.pick.config import PickConfig
from albumgen.stages.pick.learned import LearnedScorers, availability, clap_windows
from albumgen.stages.pick.scoring import score_files


@pytest.fixture(scope="module")
def clap_dir(tmp_path_factory):
    return tiny_clap(tmp_path_factory.mktemp("clap"))


def test_missing_weights_skip_with_a_reason_and_no_download(tmp_path):
    cfg = PickConfig(clap_model="nobody/no-such-clap-model", aesthetics=True)
    reasons = availability(cfg)
    assert reasons["clap"].startswith("weights for nobody/no-such-clap-model are not on this machine")
    assert "audiobox-aesthetics is not installed" in reasons["aesthetics"]
    assert availability(PickConfig(clap_model=None, aesthetics=False)) == {
        "clap": "off (pick.clap_model is null)", "aesthetics": "off (pick.aesthetics is false)"}


def test_fixed_windows():
    assert clap_windows(25 * 48000, 48000) == [(0, 480000), (480000, 480000), (960000, 240000)]
    assert clap_windows(24 * 48000, 48000) == [(0, 480000), (480000, 480000)]
    assert clap_windows(3 * 48000, 48000) == [(0, 144000)]


def test_clap_scores_prompt_adherence_when_weights_are_here(clap_dir, tmp_path):
    cfg = PickConfig(clap_model=str(clap_dir))
    assert availability(cfg)["clap"] is None
    learned = LearnedScorers(cfg)
    assert "clap" not in learned.skipped
    audio = F.music(seconds=3.0)
    a = learned.score(audio, F.SR, "warm analog synth pads")
    b = learned.score(F.stereo(audio), F.SR, "warm analog synth pads")
    assert set(a) == {"clap"} and -1.0 <= a["clap"] <= 1.0
    assert a == b  # fixed windows: the same take always gets the same score
    assert learned.score(audio, F.SR, None) == {}  # no prompt, nothing to adhere to


def test_score_command_library_uses_clap_with_a_prompt(clap_dir, tmp_path):
    import soundfile as sf

    paths = []
    for name, audio in (("clean", F.music(seconds=3.0)), ("noise", F.white_noise(seconds=3.0))):
        paths.append(tmp_path / f"{name}.wav")
        sf.write(paths[-1], audio, F.SR)
    report = score_files(paths, PickConfig(clap_model=str(clap_dir)), prompt="warm analog synth pads")
    assert "clap" not in report["skipped"]
    assert all("clap" in f["features"] and "clap" in f["z"] for f in report["files"])
    assert report["picked"] == str(paths[0])
