"""The architecture's boundaries, checked on every module as it is now:
stages never import each other, and the engine reaches a stage only through the registry
(which imports the `albumgen.stages` package by name, at run time). New modules are
covered without being listed."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "src" / "albumgen"
STAGES = ROOT / "stages"


def imported(path: Path, package: str) -> set[str]:
    """Absolute names of every module `path` imports (relative imports resolved against `package`)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            names.add(mod)
            names.update(f"{mod}.{alias.name}" for alias in node.names)
    return names


def package_of(path: Path, root: Path, prefix: str) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = [prefix, *rel.parts]
    return ".".join(parts if path.name == "__init__.py" else parts[:-1]).removesuffix(".__init__")


def engine_modules():
    return sorted(ENGINE.rglob("*.py"))


def stage_packages():
    return sorted(p for p in STAGES.iterdir() if (p / "__init__.py").exists())


@pytest.mark.parametrize("path", engine_modules(), ids=lambda p: str(p.relative_to(ENGINE)))
def test_the_engine_never_imports_a_stage(path):
    bad = {n for n in imported(path, package_of(path, ENGINE, "albumgen")) if n.startswith("albumgen.stages")}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}: reach stages through albumgen.registry"


@pytest.mark.parametrize("pkg", stage_packages(), ids=lambda p: p.name)
def test_stages_never_import_each_other(pkg):
    others = {f"albumgen.stages.{p.name}" for p in stage_packages() if p != pkg}
    for path in sorted(pkg.rglob("*.py")):
        names = imported(path, package_of(path, STAGES, "albumgen.stages"))
        bad = {n for n in names if any(n == o or n.startswith(o + ".") for o in others)}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}: stages meet only through artifacts"


def test_the_checker_sees_a_violation(tmp_path):
    """The check above can fail: a relative import of a sibling stage is resolved and caught."""
    bad = tmp_path / "pick" / "x.py"
    bad.parent.mkdir()
    bad.write_text("from ..render import engine\nfrom . import combine\n")
    names = imported(bad, "albumgen.stages.pick")
    assert "albumgen.stages.render" in names and "albumgen.stages.pick" in names
