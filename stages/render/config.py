"""render: config slice and its defaults (MusicGen's own sampling defaults)."""
from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from albumgen.errors import ModelError


class RenderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    backend: Literal["transformers", "audiocraft", "acestep"] = Field(
        "transformers", description="library that runs the model; audiocraft and acestep need their extras")
    model: str = Field("facebook/musicgen-small", min_length=1,
                       description="hub id, local folder, or a preset: tiny, tiny-stereo, tiny-melody, "
                                   "tiny-stereo-melody, tiny-acestep (backend acestep)")
    takes: int = Field(4, ge=1, le=64, description="takes rendered per track")
    duration: float = Field(30.0, gt=0, le=600, description="seconds of audio per take")
    tail: float = Field(3.0, ge=0, le=30, description="seconds rendered past duration, room for master to end on a phrase")
    decoder: Literal["encodec", "mbd"] = Field(
        "encodec", description="tokens to audio: the model's EnCodec, or MultiBandDiffusion (audiocraft extra)")
    top_k: int = Field(250, ge=0)
    top_p: float = Field(0.0, ge=0, le=1)
    temperature: float = Field(1.0, gt=0)
    cfg: float = Field(3.0, ge=0, description="classifier-free guidance scale")
    # acestep: flow-matching steps, its own guidance (APG; turbo checkpoints ignore it) and
    # the schedule's shift, with the turbo checkpoints' defaults.
    steps: int = Field(8, ge=1, le=200, description="acestep: denoising steps (8 for turbo checkpoints)")
    guidance: float = Field(7.0, ge=0, le=30, description="acestep: guidance scale; turbo checkpoints ignore it")
    shift: float = Field(3.0, gt=0, le=10, description="acestep: timestep schedule shift (1, 2 or 3)")
    # MusicGen was trained on 30 s windows; longer takes continue from the last
    # (max_window - extend_stride) seconds, as AudioCraft does with the same defaults.
    max_window: float = Field(30.0, gt=0, le=30, description="seconds one generation window holds")
    extend_stride: float = Field(18.0, gt=0, description="seconds each continuation window adds")
    intro: str | None = Field(None, description="audio file every take continues from (relative to the pipeline file)")
    melody: str | dict[str, str] | None = Field(
        None, description="melody reference for melody checkpoints: one audio file for every track, or {track id: file}")
    batch_size: int | Literal["auto"] = Field("auto", description="takes per batch; auto sizes it from free GPU memory")
    device: str = "auto"
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"

    @field_validator("device")
    @classmethod
    def _known_device(cls, device: str) -> str:
        if not re.fullmatch(r"auto|cpu|mps|cuda(?::\d{1,2})?", device):
            raise ValueError(f"must be auto, cpu, cuda, cuda:N or mps, got {device!r}")
        return device

    @model_validator(mode="after")
    def _check(self) -> RenderConfig:
        if self.extend_stride >= self.max_window:
            raise ValueError("extend_stride must be less than max_window (the rest of the window is the prompt)")
        if isinstance(self.batch_size, int) and self.batch_size < 1:
            raise ValueError("batch_size must be >= 1 or 'auto'")
        musicgen_preset = self.model.startswith("tiny") and self.model != "tiny-acestep"
        if self.backend == "acestep" and (musicgen_preset or self.model.startswith("facebook/musicgen")):
            raise ValueError(f"model {self.model!r} is a MusicGen model, not ACE-Step (use a diffusers ACE-Step "
                             "checkpoint, or tiny-acestep to try it)")
        if self.backend != "acestep" and self.model == "tiny-acestep":
            raise ValueError("model tiny-acestep needs backend: acestep")
        if self.backend == "acestep" and (self.intro or self.melody or self.decoder != "encodec"):
            raise ValueError("backend acestep takes no intro, melody or decoder (it makes whole songs from text)")
        return self

    @property
    def tail_seconds(self) -> float:
        if self.backend == "acestep":  # the model is told the duration and writes its own ending
            return 0.0
        """The tail actually rendered. It never costs a generation window of its own: a
        take that fits one window keeps fitting it (at the default 30 s, no tail), and a
        longer take adds its tail to the last window's continuation."""
        if self.duration <= self.max_window:
            return max(0.0, min(self.tail, self.max_window - self.duration))
        return self.tail

    @property
    def seconds(self) -> float:
        """Audio per take: the asked duration plus the tail."""
        return self.duration + self.tail_seconds

    def melody_for(self, track_id: str) -> str | None:
        return self.melody.get(track_id) if isinstance(self.melody, dict) else self.melody

    def key_fields(self) -> dict:
        # device, dtype and batch_size change speed, not what was asked for: changing them
        # keeps finished takes (their records still note where they came from).
        if self.backend == "acestep":  # one pass, no windows; its own sampling settings
            return self.model_dump(include={"backend", "model", "duration", "steps", "guidance", "shift"})
        fields = {"model", "duration", "top_k", "top_p", "temperature", "cfg"}
        if self.seconds > self.max_window:  # windows only matter to takes that need several
            fields |= {"max_window", "extend_stride"}
        # Fields added later enter the key only when set, so existing takes keep their keys.
        if self.backend != "transformers":
            fields.add("backend")
        if self.intro:  # its contents enter the key as an input hash
            fields.add("intro")
        out = self.model_dump(include=fields)
        if self.tail_seconds:  # no tail rendered: takes made before render.tail existed stay valid
            out["tail"] = self.tail_seconds
        return out



def no_melody(cfg: RenderConfig) -> ModelError:
    """The error for melodies given to a checkpoint that takes none: said by the checks
    where the model's name or config tells, else once it has loaded."""
    fix = "use one, e.g. facebook/musicgen-melody (or tiny-melody to try it)"
    if cfg.melody:
        return ModelError(f"render.melody: {cfg.model} is not a melody checkpoint", fix)
    return ModelError(f"render.model: {cfg.model} is not a melody checkpoint, but the prompts give tracks a melody",
                      f"{fix}, or leave the melody column out")
