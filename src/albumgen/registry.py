"""The only door from the engine to the stages: the list in albumgen.stages, ordered by
what each stage needs and makes (DVC's plan_repro: order from declarations)."""
from __future__ import annotations

import importlib
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the registry holds stage classes; it never builds one
    from .stage import Stage


@lru_cache(maxsize=1)
def _ordered() -> tuple[type[Stage], ...]:
    module = importlib.import_module("albumgen.stages")
    return tuple(order(list(module.STAGES)))


def order(classes: list[type[Stage]]) -> list[type[Stage]]:
    """Makers before readers; among stages free to go, the registry's own order. Raises if a
    need has no maker or two stages need each other (feedback edges are not ordering)."""
    makers: dict[str, type[Stage]] = {}
    for cls in classes:
        for art in cls.makes:
            if art.kind in makers:
                raise TypeError(f"stages {makers[art.kind].name} and {cls.name} both make {art.kind}")
            makers[art.kind] = cls
    deps = {}
    for cls in classes:
        missing = [a.kind for a in cls.needs if a.kind not in makers]
        if missing:
            raise TypeError(f"stage {cls.name} needs {', '.join(missing)}, which no stage makes")
        deps[cls] = {makers[a.kind] for a in cls.needs} - {cls}
    out: list[type[Stage]] = []
    while len(out) < len(classes):
        ready = [c for c in classes if c not in out and deps[c] <= set(out)]
        if not ready:
            raise TypeError("stages need each other: " + ", ".join(c.name for c in classes if c not in out))
        out.append(ready[0])
    return out


def stage_classes() -> list[type[Stage]]:
    return list(_ordered())


def stage_names() -> list[str]:
    return [s.name for s in stage_classes()]


def upstream(name: str) -> list[str]:
    """The stages `name` needs, directly or not, and itself, in build order."""
    classes = stage_classes()
    if name not in {c.name for c in classes}:
        return [name]  # a stage outside the registry (tests) runs on its own
    makers = {a.kind: c for c in classes for a in c.makes}
    want = {name}
    for cls in reversed(classes):
        if cls.name in want:
            want |= {makers[a.kind].name for a in cls.needs}
    return [c.name for c in classes if c.name in want]


def producers() -> dict[str, str]:
    """Artifact kind -> the name of the stage that makes it."""
    return {a.kind: c.name for c in stage_classes() for a in c.makes}


def get(name: str) -> type[Stage]:
    for cls in stage_classes():
        if cls.name == name:
            return cls
    raise KeyError(name)


def warm() -> None:
    """Import every stage and let each warm up (Stage.warm): a worker process's start-up."""
    for cls in stage_classes():
        cls.warm()
