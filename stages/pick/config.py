"""pick: config slice and its defaults."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PickConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_silence: float = Field(0.5, ge=0, le=1, description="reject a take whose share of silent frames is above this")
    max_clipping: float = Field(0.01, ge=0, le=1, description="reject a take whose share of clipped samples is above this")
    max_flatness: float = Field(0.5, ge=0, le=1, description="reject a take more noise-like than this (spectral flatness)")
