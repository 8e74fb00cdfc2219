"""The weight-free picker on synthesised takes: each failure trips its own check, the
clean take trips none and wins, and nothing moves with gain, rate, channels or format."""
from __future__ import annotations

import itertools
import random

import audio_fixtures as F
import numpy as np
import pytest

from albumgen.stages.pick.combine import checks, choose, combine
from albumgen.stages.pick.config import PickConfig
from albumgen.stages.pick.features import features

CFG = PickConfig()
FEATS: dict[str, dict] = {}


def feats(name: str) -> dict:
    """Features of a named fixture, measured once per session (CPU is shared)."""
    if name not in FEATS:
        if name == "clean":
            audio = F.music()
        elif name.startswith("snr"):
            audio = F.with_noise(float(name[3:]))
        else:
            audio = F.FAILURES[name][1]()
        FEATS[name] = features(audio, F.SR)
    return FEATS[name]


def hard(f: dict) -> set[str]:
    return {c["check"] for c in checks(f, CFG) if c["hard"]}


def test_clean_music_trips_no_check():
    assert checks(feats("clean"), CFG) == []


@pytest.mark.parametrize("name", sorted(F.FAILURES))
def test_each_failure_trips_its_own_hard_check_and_only_it(name):
    assert hard(feats(name)) == {F.FAILURES[name][0]}


def test_noisy_music_is_labelled_not_rejected_until_the_noise_dominates():
    assert [c["check"] for c in checks(feats("snr20"), CFG)] == ["noisy"]
    assert [c["check"] for c in checks(feats("snr10"), CFG)] == ["noisy"]
    assert hard(feats("snr0")) == {"noise"}


def test_absent_rhythm_is_a_label_for_noise_and_drone():
    for name in ("white_noise", "pink_noise", "drone"):
        found = {c["check"]: c["hard"] for c in checks(feats(name), CFG)}
        assert found["rhythm"] is False


def test_clean_take_wins_in_every_input_order():
    names = ["clean"] + sorted(F.FAILURES) + ["snr20", "snr10"]
    orders = [names, names[::-1]] + [names[i:] + names[:i] for i in range(1, len(names))]
    rng = random.Random(0)
    for _ in range(20):
        orders.append(rng.sample(names, len(names)))
    for order in orders:
        scored = combine([feats(n) for n in order], CFG)
        assert order[choose(scored)] == "clean", order


def test_clean_wins_against_each_failure_alone_in_both_orders():
    for name in list(F.FAILURES) + ["snr20", "snr10"]:
        for pair in (["clean", name], [name, "clean"]):
            assert pair[choose(combine([feats(n) for n in pair], CFG))] == "clean"


def test_score_falls_as_snr_falls():
    names = ["clean", "snr20", "snr10", "snr0"]
    for order in itertools.permutations(names):
        scored = dict(zip(order, combine([feats(n) for n in order], CFG)))
        s = [scored[n]["score"] for n in names]
        assert s[0] > s[1] > s[2] > s[3], (order, s)
    flat = [feats(n)["flatness_db"] for n in names]
    assert flat == sorted(flat)


def test_one_take_is_kept_with_score_zero():
    scored = combine([feats("clean")], CFG)
    assert choose(scored) == 0 and scored[0]["score"] == 0.0 and scored[0]["rejects"] == []


def test_identical_takes_tie_and_the_first_is_kept():
    scored = combine([feats("clean")] * 4, CFG)
    assert [s["score"] for s in scored] == [0.0] * 4
    assert choose(scored) == 0


def test_all_bad_takes_keep_the_least_bad():
    # The hard cut fails one check, the mostly silent take fails one too but scores lower,
    # white noise fails one: the cut (nearly all music) is the least bad.
    order = ["white_noise", "mostly_silent", "hard_cut", "clipped"]
    scored = combine([feats(n) for n in order], CFG)
    assert all(s["rejects"] for s in scored)
    assert order[choose(scored)] == "hard_cut"


def test_fewer_hard_failures_beat_a_better_score():
    base = dict(feats("clean"))
    # one hard failure, but everything else about it is poor
    one = {**base, "harsh": 0.9, "pulse_clarity": 0.0, "tonal_share": 0.03, "tempo_drift": 0.5, "repetition": 0.85}
    # two hard failures, each just over its threshold, otherwise the clean take
    two = {**base, "clipping": 0.011, "end_decay": 0.04}
    scored = combine([two, one], CFG)
    assert [len(s["rejects"]) for s in scored] == [2, 1]
    assert scored[0]["quality"] > scored[1]["quality"]
    # The score says what the choice says: one failure ranks above two, whatever the quality.
    assert scored[1]["score"] > scored[0]["score"]
    assert choose(scored) == 1


def test_hard_checks_are_configurable():
    cfg = PickConfig(hard_checks=["noise", "rhythm"])
    found = {c["check"]: c["hard"] for c in checks(feats("drone"), cfg)}
    assert found == {"drone": False, "rhythm": True}


def test_weights_zero_leave_a_feature_out():
    cfg = PickConfig(weights={"pulse_clarity": 0})
    scored = combine([feats("clean"), feats("snr10")], cfg)
    assert "pulse_clarity" not in scored[0]["z"] and "flatness_db" in scored[0]["z"]


def test_quiet_take_is_not_silent():
    f = features(F.music() * 10 ** (-60 / 20), F.SR)
    assert f["silence"] == 0.0 and hard(f) == set()


def test_digital_silence_is_rejected_as_silence():
    f = features(np.zeros(F.SR * 3), F.SR)
    assert hard(f) == {"silence"}


def test_a_take_shorter_than_the_analysis_windows_still_scores():
    f = features(F.music(seconds=0.3), F.SR)
    assert f["repetition"] == 0.0 and f["pulse_clarity"] == 0.0
    assert np.isfinite(list(f.values())).all()


def test_malformed_overrides_file_is_a_clear_error(tmp_path):
    from albumgen.errors import InputError
    from albumgen.stages.pick import overrides

    assert overrides.load(tmp_path) == {}
    overrides.save(tmp_path, {"t02": 3, "t01": 1})
    assert overrides.load(tmp_path) == {"t01": 1, "t02": 3}
    (tmp_path / overrides.REL).write_text('{"schema_version": 1, "tracks": {"t01": 0}}')
    with pytest.raises(InputError, match="tracks must map track ids to take numbers >= 1"):
        overrides.load(tmp_path)
    overrides.save(tmp_path, {})
    assert not (tmp_path / overrides.REL).exists()


def test_unstable_tempo_is_labelled_and_a_steady_one_is_not():
    steady = features(F.drifting_tempo(seconds=12, bpm=(120, 120)), F.SR)
    sliding = features(F.drifting_tempo(seconds=12, bpm=(110, 130)), F.SR)
    lost = features(F.drifting_tempo(seconds=12, bpm=(100, 140)), F.SR)
    assert steady["tempo_drift"] < 0.001 and abs(steady["tempo"] - 120) < 1
    assert sliding["tempo_drift"] > 30 * steady["tempo_drift"]
    assert steady["pulse_clarity"] > sliding["pulse_clarity"] > lost["pulse_clarity"]
    labels = [{c["check"] for c in checks(f, CFG)} & {"rhythm", "tempo"} for f in (steady, sliding, lost)]
    assert labels == [set(), {"tempo"}, {"rhythm"}]
