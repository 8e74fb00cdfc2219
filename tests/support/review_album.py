"""A tiny real album for the review tests: 2 tracks x 2 takes of the tiny model, with a
hostile album title (pipeline.yaml keeps it as written) and, written into the tracklist as a
source that let it through would (today's cleaning strips markup), a hostile track title and
prompt, built again so every stage has seen them."""
from __future__ import annotations

import shutil
import urllib.error
import urllib.request
from pathlib import Path

from helpers import write_pipeline

from albumgen.engine import runner
from albumgen.engine.store.manifest import Manifest

HOSTILE_ALBUM = "<img src=x onerror=alert(1)>"
HOSTILE_TITLE = '"><script>alert(2)</script>'
HOSTILE_PROMPT = "pads & <b onmouseover=alert(3)>arps</b>"


def build_album(folder: Path) -> Path:
    pipeline = write_pipeline(folder, {"album": {"title": HOSTILE_ALBUM, "slug": "hostile"}})
    ctx = runner.open_pipeline(pipeline, progress=False)
    runner.build(ctx)
    man = Manifest(ctx.album_dir)
    rec = man.record("prompts", "tracklist")
    rec.data["tracks"][1].update(title=HOSTILE_TITLE, prompt=HOSTILE_PROMPT)
    man.commit(rec.key, "prompts", "tracklist", [ctx.album_dir / rel for rel in rec.outputs], rec.data)
    runner.build(runner.open_pipeline(pipeline, progress=False))  # the album as such a title makes it
    return pipeline


def copy_album(src: Path, dst: Path):
    shutil.copytree(src, dst, symlinks=True)
    pipeline = dst / "pipeline.yaml"
    return pipeline, runner.open_pipeline(pipeline, progress=False)


def fetch(url: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, bytes, dict]:
    req = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)
