"""Repaint instead of re-render: a kept take that fails only a local check gets that span
made again (padded to whole beats) as a new take derived from it, scored beside the others;
outside its span the repaint is the parent, inside it is new."""
from __future__ import annotations

import logging

import numpy as np
import pytest
import soundfile as sf
from helpers import write_pipeline

from albumgen.artifacts import Pick
from albumgen.config import load_config
from albumgen.engine import runner
from albumgen.engine.store.manifest import Manifest
from albumgen.stages.pick.config import PickConfig
from albumgen.stages.pick.repaint import ask_repaints, locate, snap

pytest.importorskip("diffusers")

SECONDS = 8.0
# The tiny model's noise never goes quiet at its end: a 5 s fade asked of every ending makes
# abrupt_end (a local failure: the last bars) the one hard check each take fails.
PIPELINE = {"album": {"tracks": 1},
            "prompts": {"source": "inline", "inline": ["warm lofi piano, 92 bpm, in A minor"]},
            "render": {"backend": "acestep", "model": "tiny-acestep", "takes": 1, "duration": SECONDS, "device": "cpu"},
            "pick": {"hard_checks": ["abrupt_end"], "min_end_decay": 5.0, "retry_takes": 1, "max_rounds": 1,
                     "max_repaints": 1}}


def build(path, until="pick"):
    config, base = load_config(path)
    ctx = runner.make_context(config, base, path.name, progress=False)
    return ctx, runner.build(ctx, until=until)


@pytest.fixture(scope="module")
def album(tmp_path_factory):
    folder = tmp_path_factory.mktemp("repaint")
    ctx, _ = build(write_pipeline(folder, PIPELINE))
    return folder, ctx


def test_a_local_failure_is_repainted_before_any_new_take(album):
    _, ctx = album
    events = Manifest(ctx.album_dir).events()
    made = [e["unit"] for e in events if e["event"] == "unit_done" and e["stage"] == "render"]
    # take 1 fails at its ending: its last bars are made again (take 1001) instead of a new
    # take; only when the repaint fails too does the retry round render take 2.
    assert made == ["t01/take-1", "t01/take-1001", "t01/take-2"]
    pick = ctx.artifacts.pick("t01")
    [req] = pick.repaints
    assert (req["take"], req["n"], req["why"], req["end"]) == (1, 1, "abrupt_end", SECONDS)
    assert SECONDS - 4.0 - 1.0 <= req["start"] <= SECONDS - 4.0  # 4 s of ending, out to the beat before
    assert sorted(t["take"] for t in _pick_file(ctx)["takes"]) == [1, 2, 1001]  # scored beside the takes
    rec = ctx.manifest.record("render", "t01/take-1001").data
    assert (rec["parent"], rec["span"], rec["backend"]) == (1, [req["start"], req["end"]], "acestep")


def _pick_file(ctx):
    import json

    return json.loads((ctx.album_dir / "manifest" / "picks" / "t01.json").read_text("utf-8"))


def test_a_repaint_changes_only_its_span(album):
    _, ctx = album
    folder = ctx.album_dir / "manifest" / "takes" / "t01"
    parent, sr = sf.read(folder / "take-1.wav", dtype="float32")
    child, _ = sf.read(folder / "take-1001.wav", dtype="float32")
    start, end = ctx.artifacts.pick("t01").repaints[0]["start"], ctx.artifacts.pick("t01").repaints[0]["end"]
    a, b = int(start * sr), int(end * sr)
    assert parent.shape == child.shape == (int(SECONDS * sr), 2)
    assert np.array_equal(child[:a], parent[:a])  # outside: the parent's audio itself
    assert np.abs(child[a + int(0.05 * sr):b] - parent[a + int(0.05 * sr):b]).max() > 0.05  # inside: new
    lat_parent, lat_child = np.load(folder / "take-1.latents"), np.load(folder / "take-1001.latents")
    f = int(start * 25)
    assert np.array_equal(lat_child[:f], lat_parent[:f])  # the latents too: kept outside the span
    assert not np.allclose(lat_child[f + 1:], lat_parent[f + 1:])


def test_status_tells_repaints_from_takes(album):
    from albumgen.stages.render import RenderStage

    _, ctx = album
    assert RenderStage().status(ctx) == {"t01": "2/2 + 1 repainted"}


def test_a_repaint_is_keyed_and_resumable(album):
    folder, ctx = album
    before = ctx.manifest.record("render", "t01/take-1001").key
    _, report = build(folder / "pipeline.yaml")
    assert report.ran == 0  # the repaint, its parent and the picks are all kept
    assert Manifest(ctx.album_dir).record("render", "t01/take-1001").key == before


def take(n, checks, wav="w"):
    return {"take": n, "wav": wav, "checks": [{"check": c, "hard": True, "message": c} for c in checks],
            "features": {}, "rejects": checks}


def decision(**over):
    return {"choice": 1, "wav": "w", "manual": False, "extra_takes": 0, "retry_rounds": 0, "wants_takes": 1, **over}


def click_track(seconds=8.0, sr=22050, bpm=120):
    t = np.arange(int(seconds * sr)) / sr
    audio = 0.05 * np.sin(2 * np.pi * 220 * t)
    for beat in np.arange(0, seconds, 60 / bpm):
        i = int(beat * sr)
        audio[i:i + 400] += 0.8 * np.exp(-np.arange(len(audio[i:i + 400])) / 60)
    return audio.astype(np.float32), sr


@pytest.mark.parametrize("checks, prev, data, why", [
    (["drone"], None, {}, "a whole-take failure wants a new take"),
    (["abrupt_end", "noise"], None, {}, "one non-local failure is enough"),
    (["abrupt_end"], None, {"manual": True}, "a person's choice is left alone"),
    (["abrupt_end"], Pick(choice=1, wav="w", repaints=[{"take": 2, "start": 0, "end": 1, "n": 1}]), {}, "max reached"),
])
def test_no_repaint_where_mending_is_not_the_answer(checks, prev, data, why):
    out = ask_repaints(PickConfig(max_repaints=1), prev, {1}, [take(1, checks)], decision(**data), click_track_reader)
    assert out.get("repaints", []) == (prev.repaints if prev else []), why


def click_track_reader(rel):
    audio, sr = click_track()
    return audio[:, None], sr


def test_a_retry_round_is_traded_for_one_repaint(caplog):
    data = decision(extra_takes=4, retry_rounds=1, wants_takes=5)
    with caplog.at_level(logging.INFO, logger="albumgen"):
        out = ask_repaints(PickConfig(retry_takes=4), None, {1}, [take(1, ["abrupt_end"])], data, click_track_reader,
                           logging.getLogger("albumgen"))
    assert (out["extra_takes"], out["retry_rounds"], out["wants_takes"]) == (0, 0, 2)
    assert out["repaints"][0]["take"] == 1 and "instead of new takes" in caplog.text
    assert ask_repaints(PickConfig(repaint=False), None, {1}, [take(1, ["abrupt_end"])], data,
                        click_track_reader)["repaints"] == []


def test_a_dropout_is_found_and_padded_to_the_beats_around_it():
    audio, sr = click_track()
    gap = (int(3.1 * sr), int(3.35 * sr))
    audio[gap[0]:gap[1]] = 0.0
    [(s, e)] = locate("dropout", audio, sr, {})
    assert 3.05 <= s <= 3.15 and 3.3 <= e <= 3.4
    start, end = snap((s, e), audio, sr)
    assert start <= s and end >= e and end - start <= 1.0 + 1e-6  # out to the beats, no further
    assert min(abs(start - b) for b in np.arange(0, 8, 0.5)) < 0.05 and min(abs(end - b) for b in np.arange(0, 8, 0.5)) < 0.05


@pytest.mark.parametrize("style, seed", [("band", 1), ("electronic", 2), ("piano", 3)])
def test_a_stuck_stretch_is_repainted_where_it_repeats(style, seed):
    """The span made again is the stretch that repeats one short segment, not the sharpest
    level change somewhere else in the take."""
    import take_fixtures as T

    from albumgen.stages.pick.features import features

    clean = T.piece(seed, 16.0, style=style)
    bad = T.stuck(clean, seed=seed)
    at = int(np.random.default_rng(seed).uniform(0.2, 0.5) * len(clean)) / T.SR
    end = at + 0.25 * 12  # twelve repeats of a quarter second
    f = features(bad, T.SR)
    [(s, e)] = locate("stuck", bad, T.SR, f)
    assert at - 0.75 <= s <= at + 0.5 and end - 0.5 <= e <= end + 0.75, (at, end, s, e)
    assert "stuck_at" not in features(clean, T.SR)  # nothing repeats: nowhere to mend
