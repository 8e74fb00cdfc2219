"""Without the audiocraft extra, render.backend: audiocraft is a one-line error naming the
install, before any work."""
from __future__ import annotations

import importlib.util

import pytest
from helpers import run_cli, write_pipeline

from albumgen.engine.store.manifest import Manifest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("audiocraft") is not None,
                                reason="the audiocraft extra is installed here")


def test_missing_extra_is_one_error_line_with_the_install_command(tmp_path):
    pipeline = write_pipeline(tmp_path, {"render": {"backend": "audiocraft"}})
    r = run_cli("build", str(pipeline), cwd=tmp_path)
    assert r.returncode == 5, r.stderr
    assert r.stderr.strip().splitlines()[-1] == (
        "Error: render.backend: audiocraft needs the audiocraft extra (audiocraft is not installed) "
        "(install it: pip install 'albumgen[audiocraft]' && pip install --no-deps audiocraft==1.3.0)")
    # Said before any work: the prompts (maybe an LLM's, paid for) are not made first.
    assert Manifest(tmp_path / "albums" / "test-album").records("prompts") == []
