"""prompts: config slice and its defaults."""
from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from albumgen.errors import InputError
from albumgen.inputs import MB, check_file

MAX_FILE_BYTES = 16 * MB  # tens of thousands of prompts; past this it is not a prompts file


class LLMConfig(BaseModel):
    """Any OpenAI-compatible server: OpenAI, Ollama, vLLM, llama.cpp, LM Studio."""

    model_config = ConfigDict(extra="forbid")
    base_url: str = Field("https://api.openai.com/v1", description="e.g. http://localhost:11434/v1 for Ollama")
    model: str = "gpt-4o-mini"
    # Only the variable's *name* lives in the pipeline, so the key never enters a file we write.
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable holding the key")
    temperature: float = Field(0.9, ge=0, le=2)
    seed: int | None = Field(None, ge=0, description="sampling seed; null: album.seed")
    timeout: float = Field(60.0, gt=0, description="seconds per request")
    deadline: float = Field(600.0, gt=0, description="seconds for one request, every retry and wait included")
    max_attempts: int = Field(4, ge=1, le=20, description="tries per request (retries 429, 5xx, timeouts)")
    backoff: float = Field(1.0, ge=0, description="first retry wait in seconds, doubled each retry")
    structured: bool = Field(True, description="ask for a JSON schema reply; falls back to text if refused")
    candidates: int | None = Field(None, ge=1, le=300, description="prompts to ask for; null: tracks * 1.5, at least tracks + 2")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not re.match(r"https?://[^/\s]+", url):
            raise ValueError(f"must be an http:// or https:// address, got {url!r}")
        try:  # a bracket left open, a port past 65535: caught here, not at the first request
            _ = urlsplit(url).port
        except ValueError as e:
            raise ValueError(f"is not a valid address ({e}), got {url!r}") from None
        return url

    def request_fields(self, album_seed: int) -> dict:
        """What shapes a reply (hashed into keys); transport settings are left out on purpose,
        so raising a timeout or rotating a key never re-asks the LLM."""
        return {"base_url": self.base_url.rstrip("/"), "model": self.model, "temperature": self.temperature,
                "seed": self.effective_seed(album_seed), "structured": self.structured}

    def effective_seed(self, album_seed: int) -> int:
        return album_seed if self.seed is None else self.seed

    def candidate_count(self, tracks: int) -> int:
        # More than needed, so cleaning can drop the weak ones and still fill the album.
        if self.candidates:
            return max(self.candidates, tracks)  # fewer than the album needs can never fill it
        return max(tracks + 2, math.ceil(tracks * 1.5))


class InlineTrack(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: str
    title: str | None = None
    melody: str | None = Field(None, description="audio file this track follows with a melody checkpoint "
                                                 "(relative to the pipeline file); overrides render.melody")
    lyrics: str | None = Field(None, description="what the track sings (album.vocals: lyrics), with [verse], "
                                                 "[chorus], [bridge] tags")


class PromptsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: Literal["builtin", "inline", "file", "llm"] = "builtin"
    inline: list[str | InlineTrack] = Field(default_factory=list, description="prompts, for source: inline")
    file: str | None = Field(None, description="CSV/TXT/MD/JSON/YAML of prompts, for source: file")
    max_chars: int = Field(300, ge=20, description="prompts are cut to this many characters")
    max_lyrics_chars: int = Field(2000, ge=100, le=8000, description="lyrics are cut to this many characters "
                                                                     "(at a line)")
    rewrite: bool = Field(False, description="an LLM pass that turns each prompt into a MusicGen-style description")
    llm: LLMConfig = Field(default_factory=LLMConfig, description="for source: llm and for rewrite")

    @property
    def uses_llm(self) -> bool:
        return self.source == "llm" or self.rewrite

    def key_fields(self, album_seed: int) -> dict:
        """The fields a tracklist depends on (the file's contents enter as an input hash)."""
        fields: dict = {"max_chars": self.max_chars, "rewrite": self.rewrite}
        if self.source == "inline":
            # melody enters only when set: tracklists made before the field existed keep their key
            fields["inline"] = [i if isinstance(i, str) else
                                i.model_dump(exclude={k for k in ("melody", "lyrics") if getattr(i, k) is None})
                                for i in self.inline]
        if self.uses_llm:
            fields["llm"] = {**self.llm.request_fields(album_seed), "candidates": self.llm.candidates}
        return fields

    def resolve_file(self, base_dir: Path) -> Path:
        if not self.file:
            raise InputError("prompts.file: required when prompts.source is 'file'", "set prompts.file to a prompts file")
        path = base_dir / self.file
        where = Path(os.path.normpath(path)).parent  # no resolve(): it raises on a symlink loop
        check_file(path, f"prompts.file: {self.file}", max_bytes=MAX_FILE_BYTES,
                   missing=(f"prompts.file: {self.file} not found (looked in {where})",
                            "check the path; it is relative to the pipeline file"))
        return path.resolve()
