"""One render-backend protocol and one dispatch point: every backend render.backend accepts
implements the protocol, an unknown name is one clear error, and no other module picks a
backend by comparing its name."""
from __future__ import annotations

import ast
import inspect
import typing
from pathlib import Path

import pytest
from helpers import ROOT

from albumgen.errors import ModelError
from albumgen.models.backend import BACKENDS, Backend, backend
from albumgen.stages.render.config import RenderConfig

NAMES = set(typing.get_args(RenderConfig.model_fields["backend"].annotation))
PROTOCOL = {name for name, _ in inspect.getmembers(Backend, inspect.isfunction) if not name.startswith("_")}


def test_every_configurable_backend_has_one_implementation():
    assert set(BACKENDS) == NAMES
    assert {"check_installed", "load", "loop", "encode", "decode", "bytes_per_take"} <= PROTOCOL


@pytest.mark.parametrize("name", sorted(NAMES))
def test_each_backend_implements_the_protocol(name):
    impl = backend(name)
    assert impl.name == name and isinstance(impl.songs, bool)
    for method in PROTOCOL:
        ours = inspect.signature(getattr(Backend, method))
        theirs = inspect.signature(getattr(type(impl), method))
        assert list(theirs.parameters) == list(ours.parameters), f"{name}.{method}{theirs} is not {ours}"


def test_an_unknown_backend_is_one_clear_error():
    with pytest.raises(ModelError) as e:
        backend("onnx")
    assert str(e.value) == "render.backend: unknown backend 'onnx' (use one of: transformers, audiocraft, acestep)"


def _compared_strings(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Compare):
            found |= {c.value for c in [node.left, *node.comparators] if isinstance(c, ast.Constant)}
    return found


def test_no_module_but_the_dispatch_compares_backend_names():
    # The config schema's validators say which fields each backend accepts; everything else
    # asks models.backend.
    allowed = {ROOT / "src/albumgen/models/backend.py", ROOT / "src/albumgen/models/loaded.py",
               ROOT / "stages/render/config.py"}
    files = [p for d in (ROOT / "src/albumgen", ROOT / "stages") for p in d.rglob("*.py") if p not in allowed]
    bad = {str(p.relative_to(ROOT)): _compared_strings(p) & NAMES for p in files}
    assert {p: names for p, names in bad.items() if names} == {}
