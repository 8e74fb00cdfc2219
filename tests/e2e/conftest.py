"""tests/e2e builds as a user's do: CPU units in the pool of worker processes that
`executor.workers: auto` starts (helpers.DEMO runs them in the driver for the other tests)."""
from __future__ import annotations

import helpers
import pytest


@pytest.fixture(autouse=True, scope="module")  # module: before the modules' own album fixtures
def _worker_pool_as_shipped():
    with pytest.MonkeyPatch.context() as mp:
        mp.delitem(helpers.DEMO, "executor")
        yield
