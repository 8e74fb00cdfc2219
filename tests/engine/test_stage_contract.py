"""The stage contract's hooks: stages bring their own CLI commands and read their own config
slice with its own type."""
from __future__ import annotations

import ast
from pathlib import Path

import click
import pytest
from helpers import write_pipeline

from albumgen import registry
from albumgen.cli import main
from albumgen.config import load_config
from albumgen.stage import Context, Stage

ROOT = Path(__file__).resolve().parents[2]


def test_stage_commands_reach_the_cli_through_the_registry():
    brought = {c.name: s.name for s in registry.stage_classes() for c in s.commands()}
    assert brought == {"prompts": "prompts", "pick": "pick", "score": "pick"}
    for name in brought:
        assert main.commands[name] is next(c for s in registry.stage_classes() for c in s.commands() if c.name == name)
    assert all(isinstance(c, click.Command) for s in registry.stage_classes() for c in s.commands())


def test_the_engine_cli_names_no_stage():
    """No module of the engine's CLI or status mentions a stage's name or its record fields."""
    names = set(registry.stage_names()) | {"choice", "all_rejected", "manual", "tracklist"}
    for path in [*(ROOT / "src/albumgen/cli").glob("*.py"), ROOT / "src/albumgen/engine/status.py"]:
        strings = {n.value for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Constant)
                   and isinstance(n.value, str)}
        assert not strings & names, f"{path.name} names {sorted(strings & names)}"


@pytest.mark.parametrize("cls", registry.stage_classes(), ids=lambda c: c.name)
def test_each_stage_reads_its_own_config_type(cls, tmp_path):
    config, base = load_config(write_pipeline(tmp_path, {}))
    if cls.Config is None:  # decode: set by render.decoder, with the model that made the tokens
        assert cls.name not in type(config).model_fields
        return
    ctx = Context(config=config, album_dir=tmp_path, base_dir=base, manifest=None, log=None)
    cfg = cls().settings(ctx)
    assert type(cfg) is cls.Config and cfg is getattr(config, cls.name)
    assert Stage[cls.Config] in getattr(cls, "__orig_bases__", ())  # generic over its Config


def test_no_stage_reads_config_by_name():
    for path in (ROOT / "stages").rglob("*.py"):
        assert "stage_config(" not in path.read_text(), f"{path}: use self.settings(ctx)"
