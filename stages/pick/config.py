"""pick: config slice and its defaults. Thresholds were set on synthesised music and its
failures (tests/audio_fixtures.py) with wide margins either side; docs/configuration.md documents each."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Every check the picker knows. Hard ones reject a take; the rest only label it (the
# z-scored features already move its score).
CHECKS = ("noise", "noisy", "silence", "clipping", "harsh", "loop", "drone", "abrupt_end", "rhythm", "tempo",
          "dull", "dropout", "stuck", "hum", "jump", "seam", "tempo_mismatch", "key_mismatch")
HARD_DEFAULT = ["noise", "silence", "clipping", "harsh", "loop", "drone", "abrupt_end", "dropout", "stuck", "hum",
                "seam"]


class Weights(BaseModel):
    """How much each feature's robust z-score counts. The direction (is more better?) is
    fixed in code; 0 leaves a feature out, e.g. pulse_clarity for an ambient album."""

    model_config = ConfigDict(extra="forbid")
    flatness_db: float = Field(1.0, ge=0)
    tonal_share: float = Field(0.5, ge=0)
    silence: float = Field(1.0, ge=0)
    trailing_silence: float = Field(0.5, ge=0)
    clipping: float = Field(1.0, ge=0)
    harsh: float = Field(1.0, ge=0)
    repetition: float = Field(0.5, ge=0)
    novelty_db: float = Field(0.5, ge=0)
    pulse_clarity: float = Field(0.5, ge=0)
    tempo_drift: float = Field(0.5, ge=0)
    end_decay: float = Field(0.25, ge=0)
    dull_db: float = Field(2.0, ge=0)
    dropouts: float = Field(2.0, ge=0)
    stuck_s: float = Field(2.0, ge=0)
    hum_db: float = Field(1.0, ge=0)
    jump: float = Field(2.0, ge=0)
    seam: float = Field(2.0, ge=0)
    tempo_match: float = Field(1.0, ge=0)
    key_match: float = Field(1.0, ge=0)
    clap: float = Field(2.0, ge=0)
    aesthetics: float = Field(1.0, ge=0)


class PickConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_flatness_db: float = Field(-9.0, le=0, description="noise: median bin power within this many dB of the mean")
    min_tonal_share: float = Field(0.02, ge=0, le=1, description="noise: less energy than this in tonal peaks")
    noisy_flatness_db: float = Field(-25.0, le=0, description="noisy (label): audible hiss under the music")
    max_silence: float = Field(0.4, ge=0, le=1, description="silence: share of the take below -60 dB (normalised)")
    max_trailing_silence: float = Field(0.25, ge=0, le=1, description="silence: silent tail, share of the take")
    max_clipping: float = Field(0.01, ge=0, le=1, description="clipping: share of the take with audible flat tops")
    max_harsh: float = Field(0.01, ge=0, le=1, description="harsh: share of the take in narrow high-frequency screeches")
    max_repetition: float = Field(0.9, ge=0, le=1, description="loop: self-repetition at one lag (1 = exact loop)")
    min_novelty_db: float = Field(1.5, ge=0, description="drone: a tonal take whose spectrum moves less than this")
    min_end_decay: float = Field(0.05, ge=0, description="abrupt_end: seconds from sound to silence at the end")
    min_pulse_clarity: float = Field(0.2, ge=0, le=1, description="rhythm (label): no steady pulse")
    max_tempo_drift: float = Field(0.03, ge=0, description="tempo (label): beat period spread across windows")
    max_dull_db: float = Field(15.0, ge=0, description="dull: high band this many dB under the other takes' median")
    max_dropouts: int = Field(0, ge=0, description="dropout: more gaps than this that fall 35 dB in ~35 ms mid-take")
    max_stuck_s: float = Field(1.0, ge=0, description="stuck: seconds spent repeating one 0.1-0.5 s segment")
    max_hum_db: float = Field(12.0, ge=0, description="hum: 50/60 Hz harmonics over their neighbourhood, floor spectrum")
    max_jump: float = Field(1.4, ge=1, description="jump: contrast of the take's two sides (1 = none)")
    max_seam: float = Field(1.3, ge=0, description="seam: cut at a window join over the take's 99th percentile cut")
    max_tempo_error: float = Field(0.08, ge=0, description="tempo_mismatch (label): further than this from the asked bpm")
    max_key_distance: int = Field(1, ge=0, le=7, description="key_mismatch (label): more Camelot steps from the asked key")
    hard_checks: list[str] = Field(default_factory=lambda: list(HARD_DEFAULT),
                                   description="checks that reject a take; the others only label it")
    weights: Weights = Field(default_factory=Weights)
    retry_takes: int = Field(4, ge=0, le=64, description="takes added to a track whose takes all fail")
    repaint: bool = Field(True, description="mend a kept take that fails only local checks by making that span "
                                            "again (takes with latents: render.backend acestep), not a new take")
    max_repaints: int = Field(2, ge=0, le=16, description="repaints at most, per track")
    max_rounds: int = Field(2, ge=0, le=9, description="retry rounds at most, per track")
    clap_model: str | None = Field("laion/larger_clap_music",
                                   description="CLAP folder or hub id (hub cache only, never downloaded); null: off")
    aesthetics: bool = Field(True, description="use audiobox-aesthetics when installed with cached weights")
    aesthetics_checkpoint: str | None = Field(None, description="audiobox-aesthetics checkpoint file")

    @field_validator("hard_checks")
    @classmethod
    def _known_checks(cls, v: list[str]) -> list[str]:
        bad = [c for c in v if c not in CHECKS]
        if bad:
            raise ValueError(f"unknown check {bad[0]!r}; known: {', '.join(CHECKS)}")
        return sorted(set(v))

