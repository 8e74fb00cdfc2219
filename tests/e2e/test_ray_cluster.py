"""A catalogue on a Ray cluster of two nodes (two raylets on this machine, each with its own
scratch folder): four albums on one frontier, each equal to its local build, and the second
node removed while it renders."""
from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path

import pytest
from helpers import cli, write_pipeline

from albumgen.engine.store.manifest import Manifest

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402  (after the skip: ray is an extra)

SLUGS = ("a", "b", "c", "d")
# Two tracks of two takes per album, one batch per track: eight render batches over the
# catalogue for two actors. A fixed batch size: takes equal across executors (docs/clusters.md).
ALBUM = {"album": {"tracks": 2}, "render": {"takes": 2, "batch_size": 2, "duration": 2.0},
         "executor": {"workers": 1}}


def catalogue(folder: Path) -> list[Path]:
    return [write_pipeline(folder, {**ALBUM, "album": {**ALBUM["album"], "slug": slug, "seed": n + 1,
                                                       "title": f"Album {slug.upper()}"}}, name=f"{slug}.yaml")
            for n, slug in enumerate(SLUGS)]


def files(album: Path) -> dict[str, str]:
    """Every file the album is made of (takes, picks, MP3s, cover, playlist) by its hash;
    the manifest's own bookkeeping (journal, events, records with timestamps) and the time
    each take took left out."""
    out = {}
    for path in sorted(album.rglob("*")):
        rel = path.relative_to(album).as_posix()
        if path.is_file() and not rel.startswith(("manifest/events", "manifest/journal", "manifest/manifest",
                                                  "manifest/lock", "manifest/config")):
            data = path.read_bytes()
            if rel.startswith("manifest/takes/") and rel.endswith(".json"):  # a take's sidecar: its time apart
                fields = json.loads(data)
                fields.pop("seconds"), fields["_unit"].pop("body")  # body: a hash that covers the seconds
                data = json.dumps(fields, sort_keys=True).encode()
            out[rel] = hashlib.sha256(data).hexdigest()
    return out


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory):
    """A head and a second node, one CPU and one render slot each, each its own TMPDIR
    (where a worker unpacks what a unit reads)."""
    scratch = [tmp_path_factory.mktemp(f"node{n}") for n in (0, 1)]
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "resources": {"albumgen_render": 1}, "env_vars": {"TMPDIR": str(scratch[0])}})
    second = cluster.add_node(num_cpus=1, resources={"albumgen_render": 1}, env_vars={"TMPDIR": str(scratch[1])})
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        yield cluster, second
    finally:
        ray.shutdown()
        cluster.shutdown()


def test_a_catalogue_on_two_nodes_equals_local_and_survives_losing_a_node(two_nodes, tmp_path):
    cluster, second = two_nodes
    (tmp_path / "local").mkdir()
    (tmp_path / "ray").mkdir()
    local, on_ray = catalogue(tmp_path / "local"), catalogue(tmp_path / "ray")
    r = cli("build", *map(str, local), "--executor", "local")
    assert r.exit_code == 0, r.output
    albums = [tmp_path / "ray" / "albums" / slug for slug in SLUGS]

    # Remove the second node once its actor has rendered a batch, while the catalogue still
    # has batches to render: what it held (a batch in flight, CPU tasks) runs again elsewhere.
    removed: dict = {}

    def remove_second_node() -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not removed:
            for album in albums:
                done = [e for e in _events(album, "batch_done") if e["node"] == second.node_id]
                if done:
                    sent = sum(len(_events(a, "batch_sent")) for a in albums)
                    removed["after"] = (album.name, sent)
                    cluster.remove_node(second, allow_graceful=False)
                    return
            time.sleep(0.05)

    watcher = threading.Thread(target=remove_second_node, daemon=True)
    watcher.start()
    r = cli("build", *map(str, on_ray), "--executor", "ray")
    watcher.join(5)
    assert r.exit_code == 0, r.output
    assert removed, "the second node never rendered a batch"
    assert removed["after"][1] < 2 * len(SLUGS), removed  # batches were left to render without it
    assert "4 albums built" in r.stdout

    for slug, album in zip(SLUGS, albums, strict=True):
        reference = tmp_path / "local" / "albums" / slug
        ours, theirs = files(album), files(reference)
        assert ours.keys() == theirs.keys(), slug
        assert ours == theirs, slug
        assert len(list(album.glob("*.mp3"))) == 2
    # One frontier: the actors started once, for the whole catalogue, one on each node.
    started = [e for a in albums for e in _events(a, "actor_started")]
    assert len(started) == 2 and {e["node"] for e in started} == {cluster.head_node.node_id, second.node_id}
    # The albums overlapped: the second album rendered before the first was done.
    first_done = _events(albums[0], "build_done")[-1]["ts"]
    assert min(e["ts"] for e in _events(albums[1], "batch_sent")) < first_done
    # Takes stayed where they were rendered: pick and master read them from the render node's
    # object store, not from copies the driver put (only the lost node's takes went out again).
    moved = [e for a in albums for e in _events(a, "object_store")]
    takes = sum(p.stat().st_size for a in albums for p in (a / "manifest" / "takes").rglob("*.wav"))
    assert sum(e["on_node"] for e in moved) > 0
    assert sum(e["put"] for e in moved) < takes <= sum(e["fetched"] for e in moved)


def _events(album: Path, kind: str) -> list[dict]:
    if not (album / "manifest").is_dir():
        return []
    return [e for e in Manifest(album).events() if e["event"] == kind]
