"""master: config slice and its defaults."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class MasterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    loudness: float = Field(-14.0, ge=-40, le=-5, description="integrated loudness target, LUFS")
    true_peak: float = Field(-1.0, ge=-10, le=0, description="true-peak ceiling, dBTP")
    album_mode: bool = Field(False, description="one gain for the whole album: tracks keep their relative loudness")
    trim: bool = Field(True, description="trim leading and trailing silence")
    trim_db: float = Field(-50.0, le=0, description="silence: quieter than this, dB below the track's peak")
    fade_in: float = Field(0.05, ge=0, le=10, description="seconds")
    fade_out: float = Field(1.5, ge=0, le=30, description="seconds of fade when a track ends on a fade")
    ending: Literal["auto", "fade", "cut"] = Field(
        "auto", description="auto: cut at a clear phrase boundary near the end, else fade; fade; cut (fade if no beat)")
    sample_rate: int = Field(44100, ge=8000, le=192000)
    format: Literal["mp3", "flac"] = "mp3"
    bitrate: Literal["320k", "256k", "192k", "128k", "V0"] = Field("320k", description="MP3 CBR rate, or V0 (VBR)")
    disc: int = Field(1, ge=1, description="disc number in the tags")
    discs: int = Field(1, ge=1, description="number of discs in the tags")
    mix: bool = Field(False, description="also write '<album> (continuous mix)' with crossfades and a .cue sheet")
    crossfade: float = Field(4.0, ge=0, le=30, description="seconds of crossfade in the mix, rounded to whole beats")
    cover: str | None = Field(None, description="cover image file; default: one generated from the album")
