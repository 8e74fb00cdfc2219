"""An album copied with new mtimes (cp -r, a restore, rsync without -t) is hashed once: a
matching hash records the new mtime, so later scheduler steps, builds and status runs
compare mtimes again instead of hashing every output."""
from __future__ import annotations

import collections
import shutil

import pytest
from click.testing import CliRunner
from helpers import write_pipeline

from albumgen.cli import main
from albumgen.engine.store import hashing, manifest
from albumgen.engine.store.manifest import Manifest


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("built")
    pipeline = write_pipeline(folder, {"album": {"tracks": 2}, "render": {"takes": 2}})
    r = CliRunner().invoke(main, ["build", str(pipeline)])
    assert r.exit_code == 0, r.output
    return folder


@pytest.fixture
def copied(built, tmp_path):
    """A `cp -r` of the album: same bytes, every mtime new."""
    folder = tmp_path / "copy"
    shutil.copytree(built, folder, copy_function=shutil.copyfile)
    album = folder / "albums" / "test-album"
    outputs = {rel for rec in Manifest(album).state.records.values() for rel in rec.outputs}
    assert any((album / rel).stat().st_mtime_ns != ref.mtime_ns
               for rec in Manifest(album).state.records.values() for rel, ref in rec.outputs.items())
    return folder / "pipeline.yaml", album, outputs


@pytest.fixture
def hashed(monkeypatch):
    """Every output the record store hashes to check it, by path (the real hash runs)."""
    seen: collections.Counter = collections.Counter()

    def counting(path):
        seen[str(path)] += 1
        return hashing.sha256_file(path)

    monkeypatch.setattr(manifest, "sha256_file", counting)
    return seen


def run(*args: str):
    r = CliRunner().invoke(main, list(args))
    assert r.exit_code == 0, r.output
    return r


def test_build_hashes_each_moved_output_once_then_never(copied, hashed):
    pipeline, album, outputs = copied
    n = len(Manifest(album).events())
    run("build", str(pipeline))
    assert not [e for e in Manifest(album).events()[n:] if e["event"] == "unit_done"]
    assert set(hashed) == {str(album / rel) for rel in outputs} and max(hashed.values()) == 1
    hashed.clear()
    run("build", str(pipeline))
    run("status", str(pipeline))
    assert not hashed


def test_status_records_what_it_hashed(copied, hashed):
    pipeline, album, outputs = copied
    run("status", str(pipeline))
    assert set(hashed) == {str(album / rel) for rel in outputs} and max(hashed.values()) == 1
    hashed.clear()
    run("status", str(pipeline))
    run("build", str(pipeline))
    assert not hashed
