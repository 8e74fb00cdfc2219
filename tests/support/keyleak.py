"""The key-leak sweep: after every LLM test, pass or fail, no byte albumgen wrote holds the key.

A module that talks to an LLM imports `key_sweep` into its namespace; it is autouse, so
every test there is swept. During the test TMPDIR, HOME and XDG_CACHE_HOME point into
the test's own tmp_path, so temporary files and caches land where the sweep reads them.
It reads every file under tmp_path (album folder, manifest, events.jsonl, stored replies,
temp files, caches) and every log record albumgen made, formatted with its traceback.
"""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import pytest

KEY = "sk-test-SECRET-4242-do-not-log"
KEY_ENV = "ALBUMGEN_TEST_KEY"


def files_holding(root: Path, secret: bytes) -> list[str]:
    """Every file under root whose bytes contain the secret, also in UTF-16 or JSON-escaped."""
    needles = {secret, secret.decode().encode("utf-16-le"), secret.decode().encode("unicode_escape")}
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if any(n in data for n in needles):
                found.append(path.relative_to(root).as_posix())
    return found


@pytest.fixture(autouse=True)
def key_sweep(tmp_path, monkeypatch):
    for name in ("tmp", "home", "cache"):
        (tmp_path / "sweep" / name).mkdir(parents=True)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "sweep" / "tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "sweep" / "tmp"))  # gettempdir() caches
    monkeypatch.setenv("HOME", str(tmp_path / "sweep" / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "sweep" / "cache"))
    # Every record any logger creates, whatever handlers the CLI installs or levels it sets.
    records: list[logging.LogRecord] = []
    make = logging.getLogRecordFactory()

    def keep(*args, **kwargs):
        rec = make(*args, **kwargs)
        records.append(rec)
        return rec

    logging.setLogRecordFactory(keep)
    try:
        yield
    finally:
        logging.setLogRecordFactory(make)
    leaks = files_holding(tmp_path, KEY.encode())
    fmt = logging.Formatter("%(message)s")
    logged = [fmt.format(r) for r in records if r.name.startswith("albumgen")]
    leaks += [f"log record: {line[:200]}" for line in logged if KEY in line]
    assert not leaks, f"the API key was written by albumgen: {leaks}"
