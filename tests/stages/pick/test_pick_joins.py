"""Render's window joins reach the picker: in a real build (tiny model, 1 s windows) and
through `albumgen score` from the take-<n>.json beside a take."""
from __future__ import annotations

import json

import numpy as np
import soundfile as sf
import take_fixtures as T
from helpers import write_pipeline

from albumgen.engine import runner
from albumgen.stages.pick import PickStage
from albumgen.stages.pick.scoring import score_files, take_joins


def test_a_build_hands_each_takes_joins_to_the_pick(tmp_path):
    # 2 s takes in 1 s windows adding 0.6 s each: frames 0-50, then new from 50 and 80.
    pipeline = write_pipeline(tmp_path, {"render": {"takes": 2, "duration": 2.0, "max_window": 1.0,
                                                     "extend_stride": 0.6},
                                         "pick": {"retry_takes": 0}})
    ctx = runner.open_pipeline(pipeline, progress=False)
    runner.build(ctx)
    units = PickStage().plan(ctx)
    assert units and all(j == [1.0, 1.6] for u in units for j in u.payload["joins"].values())
    assert all(len(u.payload["joins"]) == 2 and "joins" in u.inputs for u in units)
    report = json.loads(ctx.path(f"manifest/picks/{units[0].id}.json").read_text())
    assert all({"seam", "seam_db", "seam_beat"} <= set(t["features"]) for t in report["takes"])


def test_score_reads_the_joins_recorded_beside_a_take(tmp_path):
    x = T.piece(4, 32.0, style="ambient")
    for name, audio in (("take-1", x), ("take-2", T.seam(x, 16.0, seed=4))):
        sf.write(tmp_path / f"{name}.wav", audio, T.SR, subtype="FLOAT")
    files = [tmp_path / "take-1.wav", tmp_path / "take-2.wav"]
    before = score_files(files)
    assert [f["features"]["seam"] for f in before["files"]] == [0.0, 0.0]
    for p in files:
        p.with_suffix(".json").write_text(json.dumps({"take": 1, "joins": [16.0, 24.0]}))
    after = score_files(files)
    clean, seamed = after["files"]
    assert "seam" in seamed["checks"] and "seam" not in clean["checks"]
    assert after["picked"] == str(files[0])


def test_a_json_beside_a_file_that_is_not_a_take_record_means_no_joins(tmp_path):
    sf.write(tmp_path / "a.wav", np.zeros(32000), 32000)
    for body in ("[1, 2]", "not json", json.dumps({"joins": ["8"]}), json.dumps({"joins": [True]})):
        (tmp_path / "a.json").write_text(body)
        assert take_joins(tmp_path / "a.wav") == []
