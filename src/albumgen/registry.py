"""The only door from the engine to the stages: the ordered list in albumgen.stages."""
from __future__ import annotations

import importlib

from .stage import Stage


def stage_classes() -> list[type[Stage]]:
    module = importlib.import_module("albumgen.stages")
    return list(module.STAGES)


def stage_names() -> list[str]:
    return [s.name for s in stage_classes()]


def get(name: str) -> type[Stage]:
    for cls in stage_classes():
        if cls.name == name:
            return cls
    raise KeyError(name)
