"""Which folder an album lands in, and the builds that would mix two albums in one folder:
refused before anything is written, by a dry run as by a build."""
from __future__ import annotations

import json

import pytest
from helpers import cli, write_pipeline

from albumgen.config import load_config
from albumgen.engine.store.trash import LAST_CONFIG


def titled(folder, title: str, name: str, **album):
    """A pipeline whose folder comes from its title (the test pipelines name theirs)."""
    path = write_pipeline(folder, {"album": {"title": title, "tracks": 1, **album}}, name=name)
    text = path.read_text("utf-8").replace("  slug: test-album\n", "")
    path.write_text(text, "utf-8")
    return path


def folders(output: str) -> list[str]:
    return [line.rsplit("/", 1)[-1] for line in output.splitlines() if line.startswith("Album folder: ")]


def test_titles_without_ascii_letters_take_the_pipeline_files_name(tmp_path):
    yoru, tokyo = titled(tmp_path, "夜の街", "yoru.yaml"), titled(tmp_path, "東京", "tokyo.yaml")
    same_name = titled(tmp_path, "夜の街", "夜の街.yaml")  # no ASCII in the file name either: its own letters
    ascii_title = titled(tmp_path, "Night Drive: Vol. 2!", "night.yaml")  # as always: existing albums stay put
    accented = titled(tmp_path, "Émigré Café", "cafe.yaml")
    r = cli("build", "--dry-run", *map(str, (yoru, tokyo, same_name, ascii_title, accented)))
    assert r.exit_code == 0, r.output
    assert folders(r.stdout) == ["yoru", "tokyo", "夜の街", "night-drive-vol-2", "emigre-cafe"]
    assert not (tmp_path / "albums").exists()


@pytest.mark.parametrize("dry", [False, True])
def test_two_pipelines_for_one_folder_are_refused(tmp_path, dry):
    cafe, plain = titled(tmp_path, "Café", "a.yaml"), titled(tmp_path, "Cafe", "b.yaml")
    r = cli("build", *(["--dry-run"] if dry else []), str(cafe), str(plain))
    assert r.exit_code == 2, r.output
    assert r.stderr.strip() == (f"Error: two pipelines write one album folder, {tmp_path.resolve()}/albums/cafe: "
                                f"{cafe} and {plain} (give each pipeline its own album.slug)")
    assert not (tmp_path / "albums").exists()


@pytest.mark.parametrize("dry", [False, True])
def test_one_file_named_twice_is_said_so(tmp_path, dry):
    pipeline = titled(tmp_path, "Café", "t.yaml")
    r = cli("build", *(["--dry-run"] if dry else []), str(pipeline), str(tmp_path / "." / "t.yaml"))
    assert r.exit_code == 2, r.output
    assert r.stderr.strip() == f"Error: {pipeline} is named twice (name each pipeline once)"


def test_a_folder_holding_another_titles_album_is_refused(tmp_path):
    # "Café" was built into albums/cafe (its last build's config is what the folder keeps);
    # "Cafe" makes the same folder name and must not resume, trash or mix into that album.
    cafe, plain = titled(tmp_path, "Café", "a.yaml"), titled(tmp_path, "Cafe", "b.yaml")
    manifest = tmp_path / "albums" / "cafe" / "manifest"
    manifest.mkdir(parents=True)
    (manifest / LAST_CONFIG).write_text(json.dumps(load_config(cafe)[0].model_dump(mode="json")), "utf-8")
    before = sorted(p.name for p in manifest.iterdir())
    for dry in (["--dry-run"], []):
        r = cli("build", *dry, str(plain))
        assert r.exit_code == 2, r.output
        assert r.stderr.strip() == (
            f"Error: {tmp_path.resolve()}/albums/cafe holds the album 'Café', not 'Cafe': both titles make the folder "
            f"name 'cafe' (set album.slug to a folder of its own; or, if this is 'Café' retitled, set album.slug: "
            f"cafe to keep building it there)")
        assert sorted(p.name for p in manifest.iterdir()) == before
    assert cli("build", "--dry-run", str(cafe)).exit_code == 0  # its own album: builds on
    # Named on purpose: the same album retitled keeps its folder.
    retitled = titled(tmp_path, "Cafe", "c.yaml", slug="cafe")
    r = cli("build", "--dry-run", str(retitled))
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("dry", [False, True])
def test_a_catalogues_preflight_error_names_its_album(tmp_path, dry):
    good = write_pipeline(tmp_path, {"album": {"slug": "good", "tracks": 1}}, name="good.yaml")
    bad = write_pipeline(tmp_path, {"album": {"slug": "album-x", "tracks": 1},
                                    "prompts": {"source": "file", "file": "missing.csv"}}, name="x.yaml")
    r = cli("build", *(["--dry-run"] if dry else []), str(good), str(bad))
    assert r.exit_code == 3, r.output
    errors = [line for line in r.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and errors[0].startswith(f"Error: album-x ({bad}): prompts.file")
    assert not (tmp_path / "albums").exists()
