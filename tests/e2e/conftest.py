"""tests/e2e builds as a user's do: CPU units in the pool of worker processes that
`executor.workers: auto` starts (helpers.DEMO runs them in the driver for the other tests)."""
from __future__ import annotations

import helpers
import pytest


@pytest.fixture(autouse=True)
def _worker_pool_as_shipped(monkeypatch):
    monkeypatch.delitem(helpers.DEMO, "executor")
