"""The stage contract (DESIGN.md, docs/architecture.md): a named class with a config slice,
declared inputs and outputs (artifact types, read by the engine to order stages), that
works in units. The runner owns skipping, recovering, checking and committing; a stage
only says what its units are and how to make them."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from . import registry
from .artifacts import Artifact, Artifacts
from .engine.store.hashing import unit_key

if TYPE_CHECKING:
    import click

    from .config import PipelineConfig
    from .engine.store.manifest import Manifest

C = TypeVar("C", bound=BaseModel)


class NotReady(Exception):
    """None of a stage's units can be planned yet (no tracklist, say). A stage some of whose
    units can be planned returns a Plan naming the groups that wait instead."""

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
    # Readiness, read by the scheduler. group: the track the unit belongs to; it waits for
    # the upstream stages' units of that track only. None: album-wide, it waits for every
    # upstream unit. standalone: it needs nothing upstream beyond what let it be planned.
    # after: ids of units of the same stage that must be done first.
    group: str | None = None
    standalone: bool = False
    after: tuple[str, ...] = ()
    # The files its run reads, so an executor without a shared filesystem (ray) can ship
    # them to the worker: `reads` relative to the album folder (takes, cover.jpg), and
    # `reads_pipeline` as the pipeline names them, relative to its folder (an intro, a
    # cover). Records are not files: the worker gets a snapshot of the manifest. Model
    # weights are not listed: every node has its own (docs/clusters.md).
    reads: tuple[str, ...] = ()
    reads_pipeline: tuple[str, ...] = ()


class Plan(list):
    """The units a stage can plan now, plus the groups (tracks) that wait on upstream work
    and will get units later. A plain list is a plan with nothing waiting."""

    def __init__(self, units: list[Unit] = (), waiting: list[str] = ()):
        super().__init__(units)
        self.waiting = list(waiting)


@dataclass
class Done:
    """A finished unit: its outputs are already atomically in place."""

    unit: Unit
    outputs: list[Path]
    data: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    hashes: dict[str, str] = field(default_factory=dict)  # album-relative path -> sha256, if known


@dataclass
class TakeVerdict:
    """A stage's judgement of one take, in the words a person reads (`albumgen pick`'s)."""

    take: int
    score: float | None = None
    rejects: list[str] = field(default_factory=list)  # why it cannot be kept
    warnings: list[str] = field(default_factory=list)  # what to listen for


@dataclass
class TrackReport:
    """What a stage tells a person choosing among one track's takes (the review page): its
    verdict on each take it has seen, what it could not check and why, and the choices a
    person made that a build applies (which may be waiting for the next one)."""

    takes: dict[int, TakeVerdict] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # check or scorer -> why it did not run
    chosen: int | None = None  # the take a person chose by hand; None: the stage chooses
    more_asked: int = 0  # takes a person asked for in all, beyond the configured ones


@dataclass
class Context:
    config: PipelineConfig
    album_dir: Path
    base_dir: Path  # folder of pipeline.yaml: relative paths in it are relative to here
    manifest: Manifest
    log: logging.Logger
    progress: bool = True
    session: dict[str, Any] = field(default_factory=dict)  # per build, emptied as a build starts
    # "stage/unit" -> the data a pending unit's record would hold (Stage.preview): what the
    # checks and a dry run plan later stages on. Empty while a build runs its units.
    previews: dict[str, dict] = field(default_factory=dict)

    def path(self, rel: str) -> Path:
        return self.album_dir / rel

    def work_dir(self, stage: str) -> Path:
        """The folder a stage keeps its artifacts in (manifest/<its folder>), from the engine,
        so no stage spells manifest paths by hand."""
        return self.album_dir / "manifest" / registry.get(stage).folder

    @property
    def artifacts(self) -> Artifacts:
        """Other stages' results as typed artifacts (Tracklist, Take, Pick, Master)."""
        return Artifacts(self.manifest, registry.producers(), self.previews)

    def event(self, event: str, **fields: Any) -> None:
        self.manifest.event(event, **fields)


class Stage(Generic[C]):
    """Subclass as `class PickStage(Stage[PickConfig])` with `Config = PickConfig`: the stage
    then reads its own slice, typed, with `self.settings(ctx)`."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"  # bump when the same inputs would now give other outputs
    Config: ClassVar[type[BaseModel] | None]  # None: configured by another stage's section
    # What the stage reads and what it makes; the engine orders stages by these and checks
    # that every need has a maker (registry.stage_classes).
    needs: ClassVar[tuple[type[Artifact], ...]] = ()
    makes: ClassVar[tuple[type[Artifact], ...]] = ()
    # Artifacts of a *later* stage this stage also reads: render reads Pick for the extra
    # takes pick asks for. Not an ordering edge; a new one may give this stage new units.
    feedback: ClassVar[tuple[type[Artifact], ...]] = ()
    folder: ClassVar[str] = ""  # under manifest/: where ctx.work_dir(name) points (default: name)
    # Where units run: "device" (in the driver's process, one batch at a time: render on the
    # GPU), "cpu" (a worker process of the executor) or "driver" (in the driver itself).
    resources: ClassVar[str] = "cpu"
    # Globs, relative to the work folder, of the JSON sidecars this stage writes with
    # recovery.write_sidecar: a lost record of such a unit is rebuilt from them.
    sidecars: ClassVar[tuple[str, ...]] = ()
    units_are: ClassVar[str] = "units"  # what `albumgen status` calls this stage's units ("takes")

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if not cls.__dict__.get("folder") and "name" in cls.__dict__:
            cls.folder = cls.name

    def settings(self, ctx: Context) -> C:
        """This stage's config slice, as its own Config type (validated by config.py)."""
        cfg = getattr(ctx.config, self.name)
        assert isinstance(cfg, self.Config), f"{self.name}: config slice is {type(cfg).__name__}"
        return cfg  # type: ignore[return-value]

    @classmethod
    def commands(cls) -> list[click.Command]:
        """CLI commands this stage brings (llm's register_commands, beets' Plugin.commands()):
        the engine's CLI adds them without knowing the stage. Imported lazily by the stage, so
        `import albumgen.stages` stays free of click work."""
        return []

    @classmethod
    def warm(cls) -> None:
        """Called once in each worker process as it starts, before its first unit, while
        the device renders: import heavy libraries and compile what the first unit would
        (seconds otherwise added to the time to the first finished track)."""

    def key(self, unit: Unit) -> str:
        return unit_key(self.name, self.version, unit.config, unit.inputs)

    def outputs(self, ctx: Context) -> tuple[str, ...]:
        """Globs, relative to the album folder, matching every file this stage's units write
        (as `Path.glob` reads them) and nothing else: the LLM's cached replies, a
        person's choices and files a user put in the album folder must match none. A match
        no record claims is a leftover (a kill between a commit and the trashing of the file
        it replaced, or before a unit's record) and goes to the trash when an album opens."""
        return ()

    def preflight(self, ctx: Context) -> None:
        """Check, before a build does any work, what no plan can: the machine has the device
        asked for, a file the stage reads late (a cover) is what it claims. Raise an
        AlbumgenError; the manifest is untouched at this point."""

    def plan(self, ctx: Context) -> list[Unit]:
        """Every unit this stage can have now for the current config and inputs (a Plan
        when some groups must wait for upstream work)."""
        raise NotImplementedError

    def plan_recovery(self, ctx: Context) -> list[Unit]:
        """The units whose lost records the files on disk may prove. Usually the plan; a stage
        whose plan depends on a later stage's records, which recovery has not rebuilt yet
        (render: the takes a lost pick asked for), plans what its files say was made."""
        return self.plan(ctx)

    def run(self, ctx: Context, units: list[Unit]) -> Iterator[Done]:
        """Make the given (pending) units, yielding each as soon as its outputs are in place."""
        raise NotImplementedError

    def describe(self, ctx: Context, pending: int | None = None) -> list[str]:
        """Lines for `build --dry-run` about the work this stage would do (render: takes,
        minutes of audio, the retry worst case, a time estimate). `pending`: how many of its
        units the build would run (--force and changed upstream units counted), or None
        when that is known only once upstream units ran."""
        return []

    def preview(self, ctx: Context, units: list[Unit]) -> dict[str, dict] | None:
        """The data the records of these pending units would hold, by unit id, when it costs
        nothing to know (no LLM call, no device, nothing written); None otherwise. The checks
        and a dry run plan later stages on it: an edited prompts file shows as the takes it
        renders again."""
        return None

    def pending(self, ctx: Context) -> list[str]:
        """Choices a person made that the next build carries out, one line each, for
        `albumgen status` ("t03: take 2 chosen, masters on next build")."""
        return []

    def status(self, ctx: Context) -> dict[str, str]:
        """One cell per track id for `albumgen status` (the prompts stage gives titles)."""
        return {}

    def batch_size(self, ctx: Context) -> int | None:
        """For a "device" stage: the most units one call of run() should get (a fixed
        batch shape), or None for any number. An executor with several devices splits the
        ready units into batches of this size and hands each to the next free device."""
        return None

    # What a person can choose about a track through this stage (the review page's buttons):
    # action name -> what its value is ("take": a take number, "count": how many, "": none).
    choices: ClassVar[dict[str, str]] = {}

    def report(self, ctx: Context, track: str) -> TrackReport | None:
        """What this stage has to tell a person about the track's takes, read from its own
        records and files; None when it reports nothing (most stages)."""
        return None

    def choose(self, ctx: Context, track: str, action: str, value: int | None) -> str:
        """Apply a person's choice (one of `choices`) for the next build; returns what will
        happen, in words. Raises an AlbumgenError (LockError while a build holds the album)
        before anything is written."""
        raise NotImplementedError
