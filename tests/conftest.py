"""Shared test setup: offline, quiet, and helpers that build real pipelines."""
from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402
from helpers import write_pipeline  # noqa: E402,F401


def pytest_collection_modifyitems(items):
    # Folder is kind: whatever tests/e2e holds runs whole builds in child processes, so
    # `make check` (-m "not e2e") leaves it to `make test` without a marker on every test.
    for item in items:
        if item.path.relative_to(item.config.rootpath).parts[:2] == ("tests", "e2e"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True, scope="session")
def _few_threads():
    # CI has 2 cores; one torch thread per test process keeps timings sane and avoids
    # oversubscription when a test also runs a child albumgen process.
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def review_album_folder(tmp_path_factory):
    """The hostile review album (support/review_album.py), built once per session: the review
    server's and the browser's tests each work on their own copy of it."""
    from review_album import build_album

    folder = tmp_path_factory.mktemp("review")
    build_album(folder)
    return folder
