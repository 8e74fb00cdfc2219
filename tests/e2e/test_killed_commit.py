"""A build SIGKILLed between recording a unit's new outputs and trashing the file they
replaced leaves that file in the album folder; the next build moves it to the trash and
touches nothing a record claims."""
from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys

import yaml
from helpers import run_cli, write_pipeline
from processes import ENV

from albumgen.engine.store.manifest import Manifest

# The kill lands in the driver itself, at the first file a commit sends to the trash.
KILL_AT_TRASHING = """
import os, signal, sys
from albumgen.engine.store import trash
trash.discard = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
from albumgen.cli import main
main(["build", sys.argv[1]])
"""


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_mp3_left_by_a_kill_after_its_flac_was_recorded_goes_to_the_trash(tmp_path):
    pipeline = write_pipeline(tmp_path, {"album": {"tracks": 1}, "render": {"takes": 1}, "executor": {"workers": 0}})
    album = tmp_path / "albums" / "test-album"
    assert run_cli("build", str(pipeline)).returncode == 0
    mp3 = Manifest(album).record("master", "t01").data["file"]

    data = yaml.safe_load(pipeline.read_text())
    data["master"]["format"] = "flac"
    pipeline.write_text(yaml.safe_dump(data))
    killed = subprocess.run([sys.executable, "-c", KILL_AT_TRASHING, str(pipeline)], env=ENV, capture_output=True,
                            text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    flac = Manifest(album).record("master", "t01").data["file"]
    assert flac.endswith(".flac") and (album / mp3).is_file()  # the window: recorded, old file still there
    claimed = {rel for r in Manifest(album).state.records.values() for rel in r.outputs}
    assert mp3 not in claimed
    before = {rel: sha(album / rel) for rel in claimed}

    r = run_cli("build", str(pipeline))
    assert r.returncode == 0, r.stderr
    assert not (album / mp3).exists()
    notes = [json.loads(p.read_text()) for p in (album / "manifest" / "trash").glob("*/note.json")]
    assert [n["files"] for n in notes if n["record"] is None] == [[mp3]]
    # Every file recorded before it is as it was, but the playlist the resumed build remade.
    remade = set(Manifest(album).record("master", "album").outputs)
    assert {rel: sha(album / rel) for rel in before if rel not in remade} == \
        {rel: h for rel, h in before.items() if rel not in remade}
