"""The fold (journal into manifest.json) never leaves a moment without a valid snapshot, sets
the snapshot aside only when the snapshot itself is damaged, and keeps aside the journal
lines it cannot apply (a newer albumgen's ops) instead of distrusting everything else."""
from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from helpers import write_pipeline

from albumgen.cli import main
from albumgen.engine.store import atomic
from albumgen.engine.store.manifest import Manifest
from albumgen.engine.store.records import Record, snapshot_text

# What a newer albumgen might append: an op kind this one does not know, and a put whose
# record carries a field this one's schema forbids. Both are valid JSON.
FUTURE_OPS = [
    {"op": "rename", "from": "render/t01/take-1", "to": "render/t01/take-9"},
    {"op": "put", "record": {"key": "k", "stage": "render", "unit": "t09/take-1", "outputs": {}, "data": {},
                             "finished_at": 1.0, "seconds": 0.0, "node": "gpu-7"}},
]


def line(op: dict) -> str:
    return json.dumps(op, sort_keys=True, separators=(",", ":"))


def test_future_ops_are_skipped_kept_and_reported(tmp_path):
    pipeline = write_pipeline(tmp_path, {"album": {"tracks": 1}, "render": {"takes": 1}})
    album = tmp_path / "albums" / "test-album"
    r = CliRunner().invoke(main, ["build", str(pipeline)])
    assert r.exit_code == 0, r.output
    folder = album / "manifest"
    before = Manifest(album).state.records
    snapshot = (folder / "manifest.json").read_bytes()
    with open(folder / "journal.jsonl", "a") as f:
        f.write("".join(line(op) + "\n" for op in FUTURE_OPS))
    m = Manifest(album)
    assert m.damage == [] and len(m.skipped) == 2 and m.state.records == before
    assert "line 1 (op 'rename', KeyError)" in m.skipped[0] and "line 2 (op 'put', ValidationError)" in m.skipped[1]

    n = len(m.events())
    r = CliRunner().invoke(main, ["build", str(pipeline)])
    assert r.exit_code == 0, r.output
    warnings = [ln for ln in r.stderr.splitlines() if "is not an op this albumgen can apply" in ln]
    assert len(warnings) == 2 and all(w.startswith("Warning: ") and "kept in journal.skipped.jsonl" in w
                                      for w in warnings)
    assert not [e for e in Manifest(album).events()[n:] if e["event"] == "unit_done"]  # nothing redone
    assert not (folder / "manifest.json.damaged").exists()
    assert (folder / "manifest.json").read_bytes() == snapshot  # the healthy snapshot kept as it was
    assert (folder / "journal.skipped.jsonl").read_text() == "".join(line(op) + "\n" for op in FUTURE_OPS)
    again = Manifest(album)
    assert again.skipped == [] and again.damage == [] and again.state.records == before
    r = CliRunner().invoke(main, ["build", str(pipeline)])
    assert "not an op" not in r.stderr  # reported once, by the run that folded it


def _big_store(folder, n_snapshot: int, n_journal: int) -> set[str]:
    """A snapshot of n_snapshot records and a journal of n_journal more, with a future op first."""
    def rec(i: int) -> Record:
        return Record(key=f"k{i}", stage="render", unit=f"t{i:05d}/take-1", outputs={}, data={"i": i},
                      finished_at=1.0, seconds=0.0)

    m = Manifest(folder)
    for i in range(n_snapshot):
        m.state.records[f"render/t{i:05d}/take-1"] = rec(i)
    atomic.write_text(m.store.snapshot_path, snapshot_text(m.state))
    ops = [line(FUTURE_OPS[0])] + [line({"op": "put", "record": rec(i).model_dump(mode="json")})
                                   for i in range(n_snapshot, n_snapshot + n_journal)]
    m.store.journal_path.write_text("\n".join(ops) + "\n")
    return {f"render/t{i:05d}/take-1" for i in range(n_snapshot + n_journal)}


FOLD = ("import sys; from albumgen.engine.store.manifest import Manifest; m = Manifest(sys.argv[1]);"
        "print('folding', flush=True); m.compact(); print('folded', flush=True)")


@pytest.mark.slow  # child processes killed mid-fold
def test_a_kill_anywhere_in_the_fold_loses_no_record(tmp_path):
    ids = _big_store(tmp_path, 3000, 3000)
    # How long a fold takes here, from a copy, so the kills land inside it.
    probe = tmp_path / "probe"
    probe.mkdir()
    import shutil

    shutil.copytree(tmp_path / "manifest", probe / "manifest")
    p = subprocess.Popen([sys.executable, "-c", FOLD, str(probe)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "folding"
    t0 = time.monotonic()
    assert p.stdout.readline().strip() == "folded"
    fold = time.monotonic() - t0
    p.wait()
    assert set(Manifest(probe).state.records) == ids

    rng = random.Random(7)
    killed_in_fold = 0
    for _ in range(12):
        p = subprocess.Popen([sys.executable, "-c", FOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "folding"
        time.sleep(rng.uniform(0, fold))
        p.send_signal(signal.SIGKILL)
        out = p.stdout.read()
        p.wait()
        killed_in_fold += "folded" not in out
        m = Manifest(tmp_path)  # what the next build (or `status`) reads
        assert m.damage == [] and set(m.state.records) == ids
        if "folded" in out:  # the fold finished before the kill: start again from an unfolded store
            _big_store(tmp_path, 3000, 3000)
    assert killed_in_fold >= 6  # most kills really landed inside a fold
