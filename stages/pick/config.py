"""pick: config slice and its defaults. Each check's limits and score weights are declared
with the check (checks.py); thresholds were set on synthesised music and its failures
(tests/support: audio_fixtures, take_fixtures, song_fixtures) with wide margins either
side; docs/configuration.md documents each."""
from __future__ import annotations

from pydantic import ConfigDict, Field, create_model, field_validator

from .checks import HARD_DEFAULT, LIMITS, NAMES, SCORED

_STRICT = ConfigDict(extra="forbid")

# How much each feature's robust z-score counts: one field per scored feature the checks
# (and the learned scorers) declare. The direction (is more better?) is fixed there; 0
# leaves a feature out, e.g. pulse_clarity for an ambient album.
Weights = create_model("Weights", __config__=_STRICT,
                       **{s.name: (float, Field(s.weight, ge=0)) for s in SCORED.values()})
# Each check's limits, as declared with the check.
_Limits = create_model("_Limits", __config__=_STRICT, **{
    lim.field: (int if lim.integer else float,
                Field(int(lim.default) if lim.integer else lim.default, ge=lim.ge, le=lim.le, description=lim.meaning))
    for lim in LIMITS})


class PickConfig(_Limits):
    model_config = _STRICT
    hard_checks: list[str] = Field(default_factory=lambda: sorted(HARD_DEFAULT),
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
        bad = [c for c in v if c not in NAMES]
        if bad:
            raise ValueError(f"unknown check {bad[0]!r}; known: {', '.join(NAMES)}")
        return sorted(set(v))

