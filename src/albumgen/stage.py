"""The stage contract (DESIGN.md): a named class with a config slice, declared inputs and
outputs, that works in units. The runner owns skipping and committing; a stage only says
what its units are and how to make them."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Iterator

from pydantic import BaseModel

from .hashing import unit_key

if TYPE_CHECKING:
    from .config import PipelineConfig
    from .manifest import Manifest


class NotReady(Exception):
    """A stage's inputs are not in the manifest yet (only seen by --dry-run and --until)."""

    def __init__(self, needs: str):
        super().__init__(needs)
        self.needs = needs


@dataclass
class Unit:
    id: str  # stable within the stage, e.g. "t03/take-2"; names the live record
    config: dict[str, Any]  # the config values this unit depends on (hashed)
    inputs: dict[str, str]  # name -> sha256 of each input artifact (hashed)
    payload: Any = None  # whatever the stage needs to run it (not hashed)
    key: str = ""


@dataclass
class Done:
    """A finished unit: its outputs are already atomically in place."""

    unit: Unit
    outputs: list[Path]
    data: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class Context:
    config: "PipelineConfig"
    album_dir: Path
    base_dir: Path  # folder of pipeline.yaml: relative paths in it are relative to here
    manifest: "Manifest"
    log: logging.Logger
    progress: bool = True

    def stage_config(self, name: str) -> Any:
        return getattr(self.config, name)

    def path(self, rel: str) -> Path:
        return self.album_dir / rel

    def event(self, event: str, **fields: Any) -> None:
        self.manifest.event(event, **fields)


class Stage:
    name: ClassVar[str]
    version: ClassVar[str] = "1"  # bump when the same inputs would now give other outputs
    Config: ClassVar[type[BaseModel] | None]  # None: configured by another stage's section
    needs: ClassVar[tuple[str, ...]] = ()
    makes: ClassVar[tuple[str, ...]] = ()

    def key(self, unit: Unit) -> str:
        return unit_key(self.name, self.version, unit.config, unit.inputs)

    def plan(self, ctx: Context) -> list[Unit]:
        """Every unit this stage should have for the current config and inputs."""
        raise NotImplementedError

    def run(self, ctx: Context, units: list[Unit]) -> Iterator[Done]:
        """Make the given (pending) units, yielding each as soon as its outputs are in place."""
        raise NotImplementedError

    def status(self, ctx: Context) -> dict[str, str]:
        """One cell per track id for `albumgen status` (the prompts stage gives titles)."""
        return {}

    def wants_another_round(self, ctx: Context) -> bool:
        """True when this stage asked upstream stages for more work (pick's retry takes)."""
        return False
