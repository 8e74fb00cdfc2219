"""Distinct tracks: the same clip chosen for two tracks is flagged, and the weaker track
takes another take; different clips are not flagged."""
from __future__ import annotations

import numpy as np
import soundfile as sf
from music_fixtures import SR, song
from rounds import run_stage, sequence_unsettled

from albumgen.audio.music import analyse, distance
from albumgen.config import parse_config
from albumgen.engine.runner import make_context
from albumgen.engine.store import atomic
from albumgen.stages.pick import PickStage
from albumgen.stages.sequence import DUPLICATE_DISTANCE, SequenceStage

SAME = song(0, "major", 120.0, 8.0)  # what both prompts ask for: it wins both tracks' picks


def test_fingerprint_distance_tells_the_same_clip_from_others():
    a = analyse(SAME, SR).fingerprint
    assert distance(a, analyse(np.roll(SAME, 777), SR).fingerprint) < DUPLICATE_DISTANCE / 4
    for other in (song(9, "minor", 90.0, 8.0), song(7, "major", 124.0, 8.0, seed=2)):
        assert distance(a, analyse(other, SR).fingerprint) > 2 * DUPLICATE_DISTANCE


def _album(tmp, takes_per_track: dict[str, list[np.ndarray]]):
    """A manifest with a tracklist and real take files, as prompts and render leave them."""
    cfg = parse_config({"album": {"title": "D", "slug": "d", "tracks": len(takes_per_track), "seed": 1},
                        "pick": {"max_rounds": 0}})
    ctx = make_context(cfg, tmp, "pipeline.yaml", progress=False)
    m = ctx.manifest
    m.ensure_writable()
    tracks = []
    for i, (tid, takes) in enumerate(takes_per_track.items(), 1):
        prompt = f"track {i}: piano and drums, 120 bpm, in C major"
        tracks.append({"id": tid, "n": i, "title": f"Track {i}", "prompt": prompt})
        for n, audio in enumerate(takes, 1):
            wav = ctx.album_dir / f"manifest/takes/{tid}/take-{n}.wav"
            with atomic.atomic_path(wav) as t:
                sf.write(str(t), np.stack([audio, audio], axis=1), SR, subtype="FLOAT", format="WAV")
            m.commit(f"render-{tid}-{n}", "render", f"{tid}/take-{n}", [wav],
                     {"seed": 100 * i + n, "prompt": prompt, "sample_rate": SR, "channels": 2})
    tl = ctx.album_dir / "manifest/prompts/tracklist.json"
    atomic.write_json(tl, {"album_title": "D", "tracks": tracks})
    m.commit("prompts", "prompts", "tracklist", [tl], {"album_title": "D", "tracks": tracks})
    return ctx


def _rounds(ctx, limit: int = 4) -> int:
    """pick and sequence as the runner's rounds run them, until sequence is content."""
    for n in range(1, limit + 1):
        run_stage(PickStage(), ctx)
        run_stage(SequenceStage(), ctx)
        if not sequence_unsettled(ctx):
            return n
    raise AssertionError("sequence never settled")


def test_the_same_clip_on_two_tracks_is_flagged_and_one_track_takes_another(tmp_path):
    other1, other2 = song(9, "minor", 90.0, 8.0, seed=3), song(7, "major", 100.0, 8.0, seed=4)
    ctx = _album(tmp_path, {"t01": [SAME, other1], "t02": [other2, SAME]})
    assert _rounds(ctx) == 2
    choices = {t: ctx.artifacts.pick(t).choice for t in ("t01", "t02")}
    distinct = ctx.artifacts.distinct()
    [pair] = distinct.pairs  # found in the first round, resolved in the second
    assert (pair["a"], pair["b"]) == ("t01", "t02") and pair["distance"] < DUPLICATE_DISTANCE
    assert distinct.open == []
    changed = pair["changed"]
    assert distinct.avoid == {changed: [1 if changed == "t01" else 2]}
    # The other track kept the clip; the changed one took its other take.
    assert choices == ({"t01": 2, "t02": 2} if changed == "t01" else {"t01": 1, "t02": 1})
    assert ctx.artifacts.pick(changed).model_extra["avoid"] == distinct.avoid[changed]


def test_different_clips_are_not_flagged(tmp_path):
    ctx = _album(tmp_path, {"t01": [SAME], "t02": [song(9, "minor", 90.0, 8.0, seed=3)]})
    assert _rounds(ctx) == 1
    assert ctx.artifacts.distinct().pairs == [] and ctx.artifacts.distinct().avoid == {}
