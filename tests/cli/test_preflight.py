"""What a dry run's "Checks passed" promises: a build of the same pipeline does not stop later
on something the checks could have seen. Each mistake below stops the dry run and the build
alike, before any take is rendered, with one `Error:` line and its exit code, and leaves
every byte already in the album folder as it was."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import cli, write_pipeline

OUTPUT_FIX = "(set output_dir in the pipeline to a folder you can write)"


def one_error(r, code: int) -> str:
    assert r.exit_code == code, r.output
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), r.stderr
    return lines[0]


# -- output_dir --------------------------------------------------------------------------------
def _below_a_file(tmp_path: Path) -> str:
    (tmp_path / "taken").write_text("a file where a folder should be")
    return "taken/albums"


def _in_sysfs(tmp_path: Path) -> str:
    if not Path("/sys/kernel").is_dir():
        pytest.skip("no /sys/kernel here")
    return "/sys/kernel/albums"


@pytest.mark.parametrize("dry", [True, False])
@pytest.mark.parametrize("where", [_below_a_file, _in_sysfs], ids=["below a file", "in sysfs"])
def test_an_output_dir_that_cannot_be_written_stops_the_checks(tmp_path, where, dry):
    output_dir = where(tmp_path)
    pipeline = write_pipeline(tmp_path, {"output_dir": output_dir})
    before = sorted(os.listdir(tmp_path))
    line = one_error(cli("build", str(pipeline), *(["--dry-run"] if dry else [])), 7)
    album = (tmp_path / output_dir / "test-album").resolve()
    assert line.startswith(f"Error: cannot write to {album}: ") and line.endswith(OUTPUT_FIX), line
    assert sorted(os.listdir(tmp_path)) == before  # the probe left nothing behind


def test_the_output_check_leaves_nothing_in_a_writable_folder(tmp_path):
    pipeline = write_pipeline(tmp_path)
    (tmp_path / "albums").mkdir()
    r = cli("build", str(pipeline), "--dry-run")
    assert r.exit_code == 0, r.output
    assert os.listdir(tmp_path / "albums") == []
