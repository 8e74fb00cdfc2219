"""Shared test setup: offline, quiet, and helpers that build real pipelines."""
from __future__ import annotations

import os
from collections import Counter

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402
from helpers import write_pipeline  # noqa: E402,F401

# Files whose tests start Ray on this machine (`ray start --head`, or ray.init's own local
# cluster in Ray's default temp folder): under pytest -n they run one after another in one
# test process, as in a plain run, not beside each other.
RAY_FILES = ("tests/e2e/test_ray.py", "tests/e2e/test_ray_faults.py", "tests/e2e/test_acestep_ray.py",
             "tests/e2e/test_ray_cluster.py")


def pytest_configure(config):
    if config.pluginmanager.hasplugin("xdist"):  # pytest-xdist: the test extra has it, a bare checkout may not
        config.pluginmanager.register(_FileGroups(), "albumgen-file-groups")


def _scope(nodeid: str) -> str:
    file = nodeid.split("::", 1)[0]
    return "ray" if file in RAY_FILES else file


def _rank(nodeid: str) -> int:
    return 0 if _scope(nodeid) == "ray" else 1 if nodeid.startswith("tests/e2e/") else 2


class _FileGroups:
    """`pytest -n N --dist loadfile` (make test, make check): a file's tests share one test
    process, so a module-scoped fixture album is built once; the Ray files share one too.
    The files go out in the order the test processes collected them (below: the Ray files,
    then the rest of tests/e2e, then the others, most tests first), so the longest start
    first and no process is left alone with one at the end."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_xdist_make_scheduler(self, config, log):
        if config.getvalue("dist") != "loadfile":
            return None
        from xdist.scheduler import LoadFileScheduling

        class Scheduling(LoadFileScheduling):
            def _split_scope(self, nodeid: str) -> str:
                return _scope(nodeid)

        config.option.loadscopereorder = False  # xdist's own order: the files with most tests first
        return Scheduling(config, log)


def pytest_collection_modifyitems(config, items):
    # Folder is kind: whatever tests/e2e holds runs whole builds in child processes, so
    # `make check` (-m "not e2e") leaves it to `make test` without a marker on every test.
    for item in items:
        if item.path.relative_to(item.config.rootpath).parts[:2] == ("tests", "e2e"):
            item.add_marker(pytest.mark.e2e)
    if hasattr(config, "workerinput"):  # a pytest-xdist test process: the order _FileGroups hands files out in
        # (after the Ray files and tests/e2e, the files with most tests first, as xdist's own order)
        count = Counter(_scope(item.nodeid) for item in items)
        items.sort(key=lambda item: (_rank(item.nodeid), -count[_scope(item.nodeid)]))


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
