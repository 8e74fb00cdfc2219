"""The house's floors hold: import-linter's contracts in pyproject.toml ([tool.importlinter]):
the engine's layers, no circles inside any package, the record store leaning on nothing
above it."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT

LINT = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")


@pytest.fixture(autouse=True)
def _installed():
    if LINT is None:
        pytest.fail("import-linter is not installed: it is in the test extra (pip install -e '.[test]')")


def test_every_contract_is_kept():
    r = subprocess.run([LINT], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout


def test_a_floor_importing_one_above_it_is_caught(tmp_path):
    """The checker sees the real import graph: the runner does import the scheduler, so a
    contract that puts the scheduler above the runner is broken."""
    config = tmp_path / "contracts.toml"
    config.write_text('[tool.importlinter]\nroot_package = "albumgen"\n\n[[tool.importlinter.contracts]]\n'
                      'name = "upside down"\ntype = "layers"\n'
                      'layers = ["albumgen.engine.scheduler", "albumgen.engine.runner"]\n')
    r = subprocess.run([LINT, "--config", str(config)], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "albumgen.engine.runner -> albumgen.engine.scheduler" in r.stdout
