"""render: config slice and its defaults (MusicGen's own sampling defaults)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class RenderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = Field("facebook/musicgen-small", description="hub id, local folder, 'tiny' or 'tiny-stereo'")
    takes: int = Field(4, ge=1, le=64, description="takes rendered per track")
    duration: float = Field(30.0, gt=0, le=600, description="seconds of audio per take")
    top_k: int = Field(250, ge=0)
    top_p: float = Field(0.0, ge=0, le=1)
    temperature: float = Field(1.0, gt=0)
    cfg: float = Field(3.0, ge=0, description="classifier-free guidance scale")
    batch_size: int | Literal["auto"] = "auto"
    device: str = "auto"
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"

    def key_fields(self) -> dict:
        # device, dtype and batch_size change speed, not what was asked for: changing them
        # keeps finished takes (their records still note where they came from).
        return self.model_dump(include={"model", "duration", "top_k", "top_p", "temperature", "cfg"})
