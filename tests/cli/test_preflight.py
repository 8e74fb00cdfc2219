"""What a dry run's "Checks passed" promises: a build of the same pipeline does not stop later
on something the checks could have seen. Each mistake below stops the dry run and the build
alike, before any take is rendered, with one `Error:` line and its exit code, and leaves
every byte already in the album folder as it was."""
from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest
import soundfile as sf
from audio_fixtures import music
from helpers import album_snapshot, cli, merge, write_pipeline

from albumgen.models.audiocraft_backend import INSTALL

OUTPUT_FIX = "(set output_dir in the pipeline to a folder you can write)"


PROMPTS = "title,prompt\nDawn,slow warm pads\nNoon,bright marimba groove\nDusk,soft piano and rain\n"
ALBUM = {"album": {"tracks": 3}, "prompts": {"source": "file", "file": "prompts.csv"}}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    """A three-track album (two takes each) from a prompts file, built once; each test works
    on its own copy."""
    folder = tmp_path_factory.mktemp("rendered")
    (folder / "prompts.csv").write_text(PROMPTS)
    # Rendered, not picked or mastered: every check below stops a build before render.
    r = cli("build", str(write_pipeline(folder, ALBUM)), "--until", "render")
    assert r.exit_code == 0, r.output
    return folder


def copy_of(rendered: Path, tmp_path: Path, overrides: dict) -> tuple[Path, Path, dict]:
    """The rendered album's folder copied, its pipeline with `overrides`: (pipeline, album, snapshot)."""
    folder = tmp_path / "copy"
    shutil.copytree(rendered, folder)
    album = folder / "albums" / "test-album"
    return write_pipeline(folder, merge(ALBUM, overrides)), album, album_snapshot(album)


def both(pipeline: Path):
    """The dry run and the build of `pipeline`, in that order."""
    return [cli("build", str(pipeline), "--dry-run"), cli("build", str(pipeline))]


def write_audio(path: Path, seconds: float) -> str:
    sf.write(path, music(32000, seconds), 32000)
    return path.name


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


# -- render.decoder: mbd ----------------------------------------------------------------------
@pytest.mark.skipif(importlib.util.find_spec("audiocraft") is not None, reason="the audiocraft extra is installed here")
def test_mbd_without_the_audiocraft_extra_stops_before_any_take(rendered, tmp_path):
    """The decoder loads after every take is rendered; its extra is checked before the first."""
    pipeline, album, before = copy_of(rendered, tmp_path, {"render": {"decoder": "mbd", "takes": 3}})
    for r in both(pipeline):
        assert one_error(r, 5) == f"Error: render.decoder: mbd needs the audiocraft extra (install it: {INSTALL})"
    assert album_snapshot(album) == before  # the third takes were not rendered first
    r = cli("build", str(pipeline), "--until", "render", "--dry-run")  # no decode asked: no extra needed
    assert r.exit_code == 0, r.output


# -- render.intro ---------------------------------------------------------------------------
def test_an_intro_longer_than_the_take_stops_before_any_take(rendered, tmp_path):
    pipeline, album, before = copy_of(rendered, tmp_path, {"render": {"intro": "intro.wav"}})
    write_audio(pipeline.parent / "intro.wav", 3.0)  # the takes are 1 s
    for r in both(pipeline):
        assert one_error(r, 3) == ("Error: render.intro: intro.wav is 3.00 s, longer than the take (1.00 s) or window "
                                   "leaves room for (shorten the intro or raise render.duration)")
    assert album_snapshot(album) == before


def test_an_intro_the_take_has_room_for_passes_the_checks(tmp_path):
    write_audio(tmp_path / "intro.wav", 0.5)
    r = cli("build", str(write_pipeline(tmp_path, {"render": {"intro": "intro.wav"}})), "--dry-run")
    assert r.exit_code == 0, r.output


# -- melody conditioning ----------------------------------------------------------------------
MELODY_FIX = "(use one, e.g. facebook/musicgen-melody (or tiny-melody to try it))"


def test_a_melody_for_a_model_that_takes_none_stops_before_any_take(rendered, tmp_path):
    pipeline, album, before = copy_of(rendered, tmp_path, {"render": {"melody": "tune.wav"}})
    write_audio(pipeline.parent / "tune.wav", 2.0)
    for r in both(pipeline):
        assert one_error(r, 5) == f"Error: render.melody: tiny is not a melody checkpoint {MELODY_FIX}"
    assert album_snapshot(album) == before


def test_a_checkpoint_folder_says_by_its_config_whether_it_takes_a_melody(tmp_path):
    """Told from config.json, without loading: the folder here has no real weights at all."""
    write_audio(tmp_path / "tune.wav", 2.0)
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "model.safetensors").write_bytes(b"")
    (tmp_path / "ckpt" / "config.json").write_text('{"model_type": "musicgen"}')
    pipeline = write_pipeline(tmp_path, {"render": {"model": "./ckpt", "melody": "tune.wav"}})
    line = one_error(cli("build", str(pipeline), "--dry-run"), 5)
    assert line == f"Error: render.melody: ./ckpt is not a melody checkpoint {MELODY_FIX}"
    assert not (tmp_path / "albums").exists()


def test_a_melody_model_passes_the_checks(tmp_path):
    write_audio(tmp_path / "tune.wav", 2.0)
    r = cli("build", str(write_pipeline(tmp_path, {"render": {"model": "tiny-melody", "melody": "tune.wav"}})),
            "--dry-run")
    assert r.exit_code == 0, r.output


def test_a_melody_column_added_to_the_prompts_file_is_checked_against_the_model(rendered, tmp_path):
    """The prompts file is read at the checks: its melodies meet the model before prompts run."""
    pipeline, album, before = copy_of(rendered, tmp_path, {})
    write_audio(pipeline.parent / "tune.wav", 2.0)
    (pipeline.parent / "prompts.csv").write_text(PROMPTS.replace("title,prompt", "title,prompt,melody")
                                                 .replace("rain\n", "rain,tune.wav\n").replace("pads\n", "pads,\n")
                                                 .replace("groove\n", "groove,\n"))
    for r in both(pipeline):
        assert one_error(r, 5) == ("Error: render.model: tiny is not a melody checkpoint, but the prompts give tracks "
                                   "a melody (use one, e.g. facebook/musicgen-melody (or tiny-melody to try it), or "
                                   "leave the melody column out)")
    assert album_snapshot(album) == before


# -- what the dry run says it would do --------------------------------------------------------
def dry_lines(pipeline: Path, *args: str) -> list[str]:
    r = cli("build", str(pipeline), "--dry-run", *args)
    assert r.exit_code == 0, r.output
    return r.stdout.splitlines()


def test_a_dry_run_after_one_prompt_is_edited_counts_the_takes_the_build_renders(rendered, tmp_path):
    pipeline, album, before = copy_of(rendered, tmp_path, {})
    (pipeline.parent / "prompts.csv").write_text(PROMPTS.replace("soft piano and rain", "soft piano and thunder"))
    lines = dry_lines(pipeline, "--until", "render")
    assert "  prompts  would run 1 of 1 unit (0 up to date)" in lines
    assert "  render   would run 2 of 6 units (4 up to date)" in lines
    assert "  render: 3 tracks x 2 takes = 6 takes of 1 s (0.1 min of audio), 2 still to render" in lines
    assert album_snapshot(album) == before
    r = cli("build", str(pipeline), "--until", "render")
    assert r.stdout.strip() == f"Built {album} (units run: prompts 1, render 2)", r.output


def test_a_dry_run_of_a_forced_stage_counts_every_unit(rendered, tmp_path):
    pipeline, album, before = copy_of(rendered, tmp_path, {})
    lines = dry_lines(pipeline, "--force", "render")
    assert "  render   would run 6 of 6 units (0 up to date)" in lines
    assert "  render: 3 tracks x 2 takes = 6 takes of 1 s (0.1 min of audio)" in lines  # not "0 still to render"
    assert "  pick     would run 0 of 0 units (0 up to date); 3 tracks wait on upstream units" in lines
    lines = dry_lines(pipeline)
    assert "  render   would run 0 of 6 units (6 up to date)" in lines
    assert "  render: 3 tracks x 2 takes = 6 takes of 1 s (0.1 min of audio), 0 still to render" in lines
    assert album_snapshot(album) == before
