"""prompts: config slice and its defaults."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from albumgen.errors import InputError


class PromptsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: Literal["builtin", "inline", "file", "llm"] = "builtin"
    inline: list[str] = Field(default_factory=list, description="prompts, for source: inline")
    file: str | None = Field(None, description="CSV/TXT/MD/JSON/YAML of prompts, for source: file")
    max_chars: int = Field(300, ge=20, description="prompts are cut to this many characters")

    def key_fields(self) -> dict:
        """The fields a tracklist depends on (the file's contents enter as an input hash)."""
        return {"inline": self.inline if self.source == "inline" else None, "max_chars": self.max_chars}

    def resolve_file(self, base_dir: Path) -> Path:
        if not self.file:
            raise InputError("prompts.file: required when prompts.source is 'file'", "set prompts.file to a prompts file")
        path = (base_dir / self.file).resolve()
        if not path.is_file():
            raise InputError(f"prompts.file: {self.file} not found (looked in {path.parent})",
                             "check the path; it is relative to the pipeline file")
        return path
