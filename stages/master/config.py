"""master: config slice and its defaults."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class MasterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    loudness: float = Field(-14.0, ge=-40, le=-5, description="integrated loudness target, LUFS")
    true_peak: float = Field(-1.0, ge=-10, le=0, description="true-peak ceiling, dBTP")
    fade_in: float = Field(0.05, ge=0, le=10, description="seconds")
    fade_out: float = Field(1.5, ge=0, le=30, description="seconds")
    trim_db: float = Field(-50.0, le=0, description="leading/trailing audio below this (dBFS) is trimmed")
    sample_rate: int = Field(44100, ge=8000, le=192000)
    format: Literal["mp3"] = "mp3"
    bitrate: Literal["320k", "256k", "192k", "128k"] = "320k"
    cover: str | None = Field(None, description="cover image file; default: one generated from the album")
