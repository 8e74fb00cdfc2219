"""pipeline.yaml validation: every error names the dotted path and the fix."""
from __future__ import annotations

from pathlib import Path

import pytest

from albumgen.config import load_config, parse_config
from albumgen.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_come_from_each_stage():
    cfg = parse_config({})
    assert cfg.render.takes == 4 and cfg.render.top_k == 250 and cfg.render.cfg == 3.0
    assert cfg.master.loudness == -14.0 and cfg.master.true_peak == -1.0
    assert cfg.prompts.source == "builtin"
    assert cfg.album.tracks == 8


@pytest.mark.parametrize("data,message", [
    ({"render": {"takes": 0}}, "render.takes: must be >= 1"),
    ({"render": {"takes": "four"}}, "render.takes: must be an int, got 'four'"),
    ({"render": {"tkes": 3}}, "render.tkes: unknown key (allowed: backend, batch_size, cfg,"),
    ({"albm": {}}, "albm: unknown key (allowed: album, executor, master, output_dir, pick, prompts, render)"),
    ({"prompts": {"source": "chatgpt"}}, "prompts.source: must be 'builtin', 'inline', 'file' or 'llm'"),
    ({"album": {"tracks": 120}}, "album.tracks: must be <= 99"),
    ({"master": {"loudness": "loud"}}, "master.loudness: must be a float, got 'loud'"),
])
def test_errors_name_the_path(data, message):
    with pytest.raises(ConfigError) as e:
        parse_config(data, source="p.yaml")
    assert str(e.value).startswith(message), str(e.value)
    assert str(e.value).endswith("(fix p.yaml)")


def test_not_a_mapping():
    with pytest.raises(ConfigError, match="must be a mapping"):
        parse_config(["a", "b"])


def test_malformed_yaml_gives_line(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text("album:\n  title: x\n render: [\n")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert "malformed YAML at line 3" in str(e.value)


def test_missing_pipeline(tmp_path):
    with pytest.raises(ConfigError, match="no such pipeline file"):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize("name", ["pipeline.yaml", "examples/demo.yaml", "examples/ollama.yaml",
                                  "src/albumgen/starter.yaml"])
def test_shipped_pipelines_are_valid(name):
    cfg, base = load_config(ROOT / name)
    assert base == (ROOT / name).parent
    if name == "pipeline.yaml":
        assert cfg.render.model.startswith("facebook/musicgen") and cfg.prompts.source == "builtin"
    if name == "examples/demo.yaml":
        assert cfg.render.model == "tiny"
