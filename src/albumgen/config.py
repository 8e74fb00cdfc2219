"""pipeline.yaml: the album section here, each stage's section next to its stage.

The top-level model is assembled from the registry, so adding a stage adds its section
without touching the engine.
"""
from __future__ import annotations

import typing
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator, model_validator

from . import registry
from .errors import ConfigError
from .inputs import read_text
from .naming import safe_filename

# A pipeline is a few kB; past this it is the wrong file (or a hostile one), not a pipeline.
MAX_PIPELINE_BYTES = 1024 * 1024


class AlbumConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(None, description="album title; null lets the prompt source name it")
    slug: str | None = Field(None, description="folder name under output_dir; default from title or file name")
    brief: str = Field("", description="what the album is about; the LLM and builtin composer read it")
    artist: str = "albumgen"
    album_artist: str | None = None
    genre: str = "Electronic"
    year: int | None = Field(None, ge=1900, le=2999,
                             description="year tag; null: the year of the album's first build, kept")
    tracks: int = Field(8, ge=1, le=99)
    seed: int = Field(0, ge=0, description="album seed; every take's seed derives from it")
    vocals: Literal["instrumental", "lyrics"] = Field(
        "instrumental", description="lyrics: the LLM writes lyrics for each track (render.backend acestep sings them)")
    language: str = Field("en", pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$",
                          description="language of the lyrics, as a code: en, de, fr, ja, zh, ...")
    order: Literal["as_listed", "flow"] = Field(
        "as_listed", description="running order: as the tracklist lists it, or flow (keys, tempos, energy)")

    @field_validator("slug")
    @classmethod
    def _one_folder(cls, slug: str | None) -> str | None:
        # The album folder is output_dir/slug: anything but one plain name ("../x", "a/b",
        # "/abs", "..") would put the album, and every file albumgen deletes, elsewhere.
        if slug is not None and (slug in (".", "..") or slug.startswith(".")
                                 or safe_filename(slug, max_bytes=100) != slug):
            raise ValueError(f"must be one folder name, valid on every system (no / \\ : * ? \" < > |, no "
                             f"leading dot, no trailing dot or space, at most 100 bytes), got {slug!r}")
        return slug


class ExecutorConfig(BaseModel):
    """Where units run (docs/clusters.md). Never part of a unit key: the
    album is the same on any executor."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["local", "ray"] = Field(
        "local", description="local: this machine, render in-process, CPU units in a pool; ray: a Ray cluster")
    workers: int | Literal["auto"] = Field("auto", description="local: CPU worker processes; auto: cores - 1; 0: none")
    address: str | None = Field(None, description="ray: the cluster (HEAD:6379, ray://HEAD:10001, auto); null: "
                                                  "RAY_ADDRESS, else a cluster `ray start` made here, else a new one")
    actors: int | Literal["auto"] = Field("auto", description="ray: render actors; auto: one per GPU of the cluster")

    @field_validator("workers")
    @classmethod
    def _workers(cls, v):
        if isinstance(v, int) and v < 0:
            raise ValueError("workers must be >= 0 or 'auto'")
        return v

    @field_validator("actors")
    @classmethod
    def _actors(cls, v):
        if isinstance(v, int) and v < 1:
            raise ValueError("actors must be >= 1 or 'auto'")
        return v


class PipelineBase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    album: AlbumConfig = AlbumConfig()
    executor: ExecutorConfig = ExecutorConfig()
    output_dir: str = Field("albums", description="relative to the pipeline file's folder")

    @model_validator(mode="after")
    def _tiny_takes_no_retries(self) -> PipelineBase:
        # A tiny preset makes noise, so every take fails the picker and each retry round only
        # multiplies the work (2 takes a track became 10). Unless pick.max_rounds is set,
        # a pipeline on a tiny preset retries nothing.
        render, pick = getattr(self, "render", None), getattr(self, "pick", None)
        if render is not None and pick is not None and str(getattr(render, "model", "")).startswith("tiny") \
                and "max_rounds" not in pick.model_fields_set:
            pick.max_rounds = 0
        return self


@lru_cache(maxsize=1)
def pipeline_model() -> type[PipelineBase]:
    fields: dict[str, Any] = {}
    for cls in registry.stage_classes():
        if cls.Config is not None:  # a stage configured by another's section has none of its own
            fields[cls.name] = (cls.Config, Field(default_factory=cls.Config))
    return create_model("PipelineConfig", __base__=PipelineBase, **fields)


PipelineConfig = PipelineBase  # for type hints; the real class has one field per stage


def _member(part: Any) -> bool:
    """A part of an error's location that names a member of a union (`str`, `InlineTrack`,
    `literal['auto']`), not a key a user wrote."""
    return isinstance(part, str) and (part in ("str", "int", "float", "bool") or part[:1].isupper() or "[" in part)


def _describe_all(errors: list[dict]) -> str:
    """The first three problems, a union's members' complaints about one value said as one."""
    groups: dict[tuple, list[dict]] = {}
    for err in errors:
        groups.setdefault(tuple(p for p in err["loc"] if not _member(p)), []).append(err)
    lines = []
    for loc, errs in list(groups.items())[:3]:
        if len(errs) == 1:
            lines.append(_describe({**errs[0], "loc": loc}))
        else:
            wants = " or ".join(dict.fromkeys(_want(e) for e in errs))
            lines.append(f"{'.'.join(str(p) for p in loc)}: must be {wants}, got {errs[0].get('input')!r}")
    return "; ".join(lines)


def _want(err: dict) -> str:
    kind = err["type"]
    if kind.startswith("string_"):
        return "a string"
    if kind.startswith("int_"):
        return "a whole number"
    if kind.startswith("float_"):
        return "a number"
    if kind.startswith("bool_"):
        return "true or false"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return "a section of settings (key: value)"
    if kind == "literal_error":
        return str(err.get("ctx", {}).get("expected"))
    return err["msg"][0].lower() + err["msg"][1:]


def _describe(err: dict) -> str:
    loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
    kind = err["type"]
    ctx = err.get("ctx", {})
    value = err.get("input")
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return f"{loc}: must be a finite number, got {value}"  # .nan fails every bound: say what is wrong with it
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        if value is None:  # `album:` with nothing under it
            return f"{loc}: is empty (write its settings indented under it, or delete the line)"
        return f"{loc}: must be a section of settings (key: value lines), got {value!r}"
    if kind == "extra_forbidden":
        parent = _allowed_keys(err["loc"][:-1])
        hint = f" (allowed: {', '.join(parent)})" if parent else ""
        return f"{loc}: unknown key{hint}"
    if kind == "missing":
        return f"{loc}: required"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
        bound = next(iter(ctx.values()))
        return f"{loc}: must be {op} {bound}"
    if kind == "literal_error":
        return f"{loc}: must be {ctx.get('expected')}"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        want = kind.split("_")[0]
        return f"{loc}: must be a{'n' if want[0] in 'aeiou' else ''} {want}, got {err.get('input')!r}"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    return f"{loc}: {msg[0].lower()}{msg[1:]}"


def _allowed_keys(loc: tuple) -> list[str]:
    model: Any = pipeline_model()
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None or not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
            return []
        model = field.annotation
    return sorted(model.model_fields)


def parse_config(data: Any, source: str = "pipeline") -> PipelineBase:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: must be a mapping of sections (album, prompts, render, ...)",
                          "see `albumgen init` for a starter file")
    _refuse_bools(data, pipeline_model(), [], source)
    try:
        return pipeline_model().model_validate(data)
    except ValidationError as e:
        problems = _describe_all(e.errors())
        raise ConfigError(problems, f"fix {source}") from None


def load_config(path: Path) -> tuple[PipelineBase, Path]:
    """Read and validate a pipeline file; returns the config and the folder it lives in."""
    path = Path(path)
    text = read_text(path, str(path), ConfigError, MAX_PIPELINE_BYTES,
                     missing=(f"{path}: no such pipeline file", "check the path, or create one with `albumgen init`"),
                     fix="save the pipeline as UTF-8 text")
    if not text.strip():
        raise ConfigError(f"{path} is empty", "write the album's settings in it; `albumgen init` writes a starter")
    try:
        data = yaml.load(text, Loader=_OnceLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: malformed YAML{where}: {problem}", "fix the YAML syntax") from None
    except RecursionError:
        raise ConfigError(f"{path}: YAML nested too deeply", "a pipeline is a few levels of sections") from None
    if data is None:  # only comments: an album of defaults is never what was meant
        raise ConfigError(f"{path} has no settings, only comments",
                          "write the album's settings in it; `albumgen init` writes a starter")
    _refuse_controls(data, [], path.name)
    return parse_config(data, source=path.name), path.resolve().parent


def _refuse_bools(data: Any, model: Any, loc: list, source: str) -> None:
    """`tracks: true` or `takes: yes` would be read as 1 (pydantic takes a bool for a number):
    a number field given true or false is said to be wrong, not counted as one."""
    if not isinstance(data, dict):
        return
    for key, value in data.items():
        field = model.model_fields.get(key) if isinstance(key, str) else None
        if field is None:
            continue
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            _refuse_bools(value, ann, loc + [key], source)
        elif isinstance(value, bool):
            kinds = set(typing.get_args(ann)) | {ann}
            if bool not in kinds and kinds & {int, float}:
                where = ".".join(map(str, loc + [key]))
                raise ConfigError(f"{where}: must be a number, got {str(value).lower()}", f"fix {source}")


class _OnceLoader(yaml.SafeLoader):
    """safe_load, but a key written twice in one section is an error: YAML keeps the last one
    silently, so a second `render:` pasted at the end would quietly undo the first."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base`: overridden on purpose
                continue
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)):  # a list or mapping as a key: pydantic says so
                continue
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"{key!r} is written twice in one section (keep one)", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def _refuse_controls(data: Any, loc: list, source: str) -> None:
    """A NUL or other control character in a value would reach paths, tags and the LLM;
    paths with NUL make every os call fail. Said once, with where it is."""
    if isinstance(data, dict):
        for k, v in data.items():
            _refuse_controls(k, loc, source)
            _refuse_controls(v, loc + [k], source)
    elif isinstance(data, list):
        for i, v in enumerate(data):
            _refuse_controls(v, loc + [i], source)
    elif isinstance(data, str) and any(ord(c) < 32 and c not in "\t\n\r" or c == "\x7f" for c in data):
        where = ".".join(str(p) for p in loc) or "a key"
        raise ConfigError(f"{where}: contains control characters ({data[:40]!r})", f"fix {source}")
