"""A loaded MusicGen, whichever backend loaded it: the fields a take's record names and the
render stage reads (ACE-Step's model has its own, models/acestep.py)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class LoadedModel:
    """A loaded MusicGen (transformers or AudioCraft) with the fields the render stage reads."""

    model: Any  # MusicgenForConditionalGeneration, or audiocraft.models.MusicGen
    model_id: str
    revision: str  # commit hash of a hub snapshot, a content hash of a folder, or "random"
    device: str
    dtype: Any
    sample_rate: int
    frame_rate: int
    channels: int
    num_codebooks: int
    backend: str = "transformers"
    tokenizer: Any = None  # transformers only: AudioCraft tokenizes inside its conditioners
    chroma: Any = None  # transformers melody checkpoints: their ChromaSettings (melody.py)

    @property
    def melody(self) -> bool:
        """Whether this checkpoint takes a melody."""
        if self.backend == "audiocraft":
            return "self_wav" in self.model.lm.condition_provider.conditioners
        return self.chroma is not None

    def tokenize(self, texts: list[str]):
        enc = self.tokenizer(texts, padding=True, return_tensors="pt")
        return enc["input_ids"].to(self.device), enc["attention_mask"].to(self.device)
