"""Every check the picker knows, each declared once: its name, the extractor that measures
its features, its limits (config fields with their defaults and meaning), whether it
rejects by default, when it trips and what it says, and the features it weighs into the
score. config.py builds PickConfig's fields and Weights from these, features.py runs the
extractors (each takes the take's Analysis, which also holds the audio as given and the
window joins), combine.py runs the tests, and docs/configuration.md's tables are generated
from them (`python -m albumgen.stages.pick.checks` prints them, `tools/pick_docs.py` writes
them into the page; a test keeps the page in step). Adding a check is adding one `Check` here and its extractor.

Extractors are named, not imported ("module:function" in this package), so reading the
config never loads numpy and scipy.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Limit:
    """One config field of a check: `pick.<field>`."""

    field: str
    default: float
    meaning: str  # the docs row and the field's description
    ge: float | None = None
    le: float | None = None
    integer: bool = False


@dataclass(frozen=True)
class Scored:
    """A feature that moves the score: its robust z-score, signed so more is better when
    `direction` is +1, with a spread floor (the smallest difference that counts: near-equal
    takes are not ranked on noise) and a default weight (pick.weights.<name>)."""

    name: str
    direction: int
    floor: float
    weight: float


@dataclass(frozen=True)
class Check:
    name: str
    hard: bool  # in hard_checks by default: rejects a take; else a label
    when: str  # the docs' "trips when"
    test: Callable[[dict, Any], str | None]  # (features, cfg) -> the message when it trips
    extract: str | None = None  # "module:function" measuring its features; None: measured elsewhere
    limits: tuple[Limit, ...] = ()
    scores: tuple[Scored, ...] = ()


HISS_NONE = -60.0  # hiss_db when a take has no floor to speak of


def _silent(f: dict, cfg) -> bool:
    # A mostly silent take has no spectrum or rhythm worth judging: "silence" says why.
    return f["silence"] > cfg.max_silence


def _noise_like(f: dict, cfg) -> bool:
    return not _silent(f, cfg) and (f["flatness_db"] > cfg.max_flatness_db or f["tonal_share"] < cfg.min_tonal_share)


def _silence(f, cfg):
    if _silent(f, cfg):
        return f"silent {f['silence']:.0%} of the time"
    if f["trailing_silence"] > cfg.max_trailing_silence:
        return f"ends in silence for the last {f['trailing_silence']:.0%}"
    return None


def _tempo_mismatch(f, cfg):
    if "tempo_error" not in f or f["tempo_error"] <= math.log2(1 + cfg.max_tempo_error):
        return None
    off = "no steady beat" if f["tempo_error"] >= 1.0 else f"{2 ** f['tempo_error'] - 1:.0%} off"
    return f"the prompt asks {f['asked_bpm']:.0f} bpm; the take is {off}"


def _over(value: float, limit: float, message: str) -> str | None:
    return message if value > limit else None


# In the order a take's checks are listed.
CHECKS: tuple[Check, ...] = (
    Check("silence", True, "`silence` > `max_silence`, or `trailing_silence` > `max_trailing_silence`", _silence,
          "features:silence",
          (Limit("max_silence", 0.4, "silence: share of ~50 ms windows below -60 dB on the normalised copy", 0, 1),
           Limit("max_trailing_silence", 0.25, "silence: silent tail, as a share of the take", 0, 1)),
          (Scored("silence", -1, 0.05, 1.0), Scored("trailing_silence", -1, 0.05, 0.5))),
    Check("noise", True, "`flatness_db` > `max_flatness_db` or `tonal_share` < `min_tonal_share`",
          lambda f, cfg: (f"noise-like (spectral floor {f['flatness_db']:.1f} dB under the mean, "
                          f"{f['tonal_share']:.0%} of energy in tonal peaks)") if _noise_like(f, cfg) else None,
          "features:noise",
          (Limit("max_flatness_db", -9.0, "noise: median bin power within this many dB of the mean power "
                                          "(white noise: -1.6)", le=0),
           Limit("min_tonal_share", 0.02, "noise: less of the energy than this in tonal peaks", 0, 1)),
          (Scored("flatness_db", -1, 3.0, 1.0), Scored("tonal_share", +1, 0.03, 0.5))),
    Check("noisy", False, "not `noise`, but `hiss_db` > `noisy_hiss_db` (hiss under the music, at any level)",
          lambda f, cfg: (f"audible hiss under the music (a floor {f['hiss_db']:.1f} dB under it all through)"
                          if not _silent(f, cfg) and not _noise_like(f, cfg)
                          and f.get("hiss_db", HISS_NONE) > cfg.noisy_hiss_db else None),
          "features:noise",
          (Limit("noisy_hiss_db", -26.0, "noisy label: the spectral floor (each frame's median bin, the lowest of "
                                         "every second) this close under the take's mean power: hiss that never "
                                         "stops (music with hiss 20 dB under it: about -24; a loud master with "
                                         "cymbals: -27 or lower); the score counts the dB over it (`hiss`)",
                 le=0),),
          # Only the floor over the label's limit ranks (combine.py derives `hiss` from hiss_db):
          # a loud master's cymbals sit under it and never cost it a place. Weight 4: beside
          # its clean twin every feature's z is +-0.67, and hiss flatters a take on several
          # (it lifts the high band, so the twin looks duller; the take is less like itself,
          # so it looks less repetitive, less stuck): at 2 the twin still lost 2 of 32 seeds.
          (Scored("hiss", -1, 1.0, 4.0),)),
    Check("clipping", True, "`clipping` > `max_clipping`: audible flat tops at the take's own peak",
          lambda f, cfg: _over(f["clipping"], cfg.max_clipping, f"audible clipping {f['clipping']:.1%} of the time"),
          "features:clipping_of",
          (Limit("max_clipping", 0.01, "clipping: share of ~50 ms windows where flat tops (2+ samples at the take's "
                                       "own peak) cut off energy within 20 dB of the window's music, estimated from "
                                       "the waveform's slope either side of each top", 0, 1),),
          (Scored("clipping", -1, 0.005, 1.0),)),
    Check("harsh", True, "`harsh` > `max_harsh`: narrow high-frequency screeches over the take's own balance",
          lambda f, cfg: _over(f["harsh"], cfg.max_harsh, f"harsh high-frequency screech {f['harsh']:.1%} of the time"),
          "features:harsh",
          (Limit("max_harsh", 0.01, "harsh: share of the take inside narrow high-frequency screeches (3.5-11 kHz, "
                                    "each bin against its own median over the take; a few bins rising >= 20 dB over "
                                    "the band's median rise, within 6 dB of the typical full-band frame, for >= 140 "
                                    "ms). Cymbals lift the whole band and are not harsh", 0, 1),),
          (Scored("harsh", -1, 0.01, 1.0),)),
    Check("loop", True, "`loop_s` > `max_loop_s`: the take is an exact copy of itself one period (0.75 s or more) "
                        "earlier for that long",
          lambda f, cfg: _over(f.get("loop_s", 0.0), cfg.max_loop_s,
                               f"stuck in a loop: an exact copy of itself {f.get('loop_period', 0):.2f} s earlier for "
                               f"{f.get('loop_s', 0):.1f} s"),
          "loops:loop",
          (Limit("max_loop_s", 2.5, "loop: seconds the take's spectrum stays within 1 dB of itself one period earlier "
                                    "(a played repeat, a vamp's every bar, differs by several)", 0),),
          # How alike the take is to itself at its best lag still ranks takes (a little):
          # of two takes of one prompt, the one that moves more is preferred.
          (Scored("loop_s", -1, 1.0, 1.0), Scored("repetition", -1, 0.1, 0.5))),
    # Noise barely moves either; calling it a drone too would only blur the reason.
    Check("drone", True, "`novelty_db` < `min_novelty_db` (unless the take is noise or silent)",
          lambda f, cfg: (f"static: the spectrum moves {f['novelty_db']:.1f} dB"
                          if f["novelty_db"] < cfg.min_novelty_db and not _noise_like(f, cfg)
                          and not _silent(f, cfg) else None),
          "features:structure",
          (Limit("min_novelty_db", 1.5, "drone: the spectrum moves less than this (std of 0.5 s band levels, dB)",
                 0),),
          (Scored("novelty_db", +1, 1.0, 0.5),)),
    Check("abrupt_end", True, "`end_decay` < `min_end_decay`",
          lambda f, cfg: (f"stops dead ({f['end_decay'] * 1000:.0f} ms to silence)"
                          if f["end_decay"] < cfg.min_end_decay else None),
          "features:end_decay_of",
          (Limit("min_end_decay", 0.05, "abrupt_end: seconds from the last sound's level to silence, when silence "
                                        "follows", 0),),
          (Scored("end_decay", +1, 0.05, 0.25),)),
    Check("dull", False, "`dull_db` > `max_dull_db`: the high band sits far under the other takes' (never for a lone "
                         "take)",
          lambda f, cfg: _over(f.get("dull_db", 0.0), cfg.max_dull_db,
                               f"muffled: its 4-11 kHz band sits {f.get('dull_db', 0):.0f} dB under the other takes'"),
          "failures:bandwidth",
          (Limit("max_dull_db", 15.0, "dull label: `hf_db` this many dB under the median of the other takes'", 0),),
          (Scored("dull_db", -1, 3.0, 2.0),)),
    Check("dropout", True, "`dropouts` > `max_dropouts`: gaps mid-take where the sound falls 35 dB in ~35 ms",
          lambda f, cfg: _over(f.get("dropouts", 0), cfg.max_dropouts,
                               f"{f.get('dropouts', 0):.0f} dropout(s): the sound falls away for a moment mid-take"),
          "failures:dropouts",
          (Limit("max_dropouts", 0, "dropout: more gaps than this mid-take", 0, integer=True),),
          (Scored("dropouts", -1, 0.5, 2.0),)),
    Check("stuck", True, "`stuck_s` > `max_stuck_s`: one 0.1-0.5 s segment repeated nearly exactly",
          lambda f, cfg: _over(f.get("stuck_s", 0.0), cfg.max_stuck_s,
                               f"stuck on one short segment for {f.get('stuck_s', 0):.1f} s"),
          "failures:stuck",
          (Limit("max_stuck_s", 1.0, "stuck: seconds spent repeating one 0.1-0.5 s segment (a quarter second twelve "
                                     "times measures ~2 s)", 0),),
          (Scored("stuck_s", -1, 0.5, 2.0),)),
    Check("hum", True, "`hum_db` > `max_hum_db`: 50 or 60 Hz and harmonics persist under the music",
          lambda f, cfg: (f"mains hum at {f.get('hum_hz', 0):.0f} Hz ({f['hum_db']:.0f} dB over its neighbourhood)"
                          if f.get("hum_db", 0.0) > cfg.max_hum_db and not _silent(f, cfg) else None),
          "failures:hum",
          (Limit("max_hum_db", 12.0, "hum: dB that the mains peaks stand over their neighbourhood in the floor "
                                     "spectrum", 0),),
          # Its spread floor is 6 dB, so a few dB of chance prominence do not rank takes.
          (Scored("hum_db", -1, 6.0, 1.0),)),
    Check("jump", False, "`jump` > `max_jump`: the take splits into two unrelated halves (timbre and harmony, or "
                         "those and the beat)",
          lambda f, cfg: (f"jumps into unrelated material at {f.get('jump_at', 0):.1f} s (contrast {f['jump']:.2f})"
                          if f.get("jump", 0.0) > cfg.max_jump and not _silent(f, cfg) else None),
          "change:jump",
          (Limit("max_jump", 1.4, "jump label: contrast of the take's two sides (1 = none)", 1),),
          (Scored("jump", -1, 0.1, 2.0),)),
    Check("seam", True, "`seam` > `max_seam`: a window join changes the take more than 99% of its other moments",
          lambda f, cfg: _over(f.get("seam", 0.0), cfg.max_seam,
                               f"a cut at a window join ({f.get('seam_db', 0):.0f} dB), sharper than the rest of "
                               "the take"),
          "features:seam_of",
          (Limit("max_seam", 1.3, "seam: change at a join over the take's 99th percentile change elsewhere", 0),),
          # A prominence of a few dB is no peak: ranking on it would be noise.
          (Scored("seam", -1, 0.5, 2.0),)),
    Check("tempo_mismatch", False, "the prompt asks a tempo (\"120 bpm\") and the take is more than "
                                   "`max_tempo_error` off it, or has no steady beat (half or double time counts as "
                                   "8 % off)", _tempo_mismatch, None,
          (Limit("max_tempo_error", 0.08, "tempo_mismatch label: share off the asked bpm", 0),),
          (Scored("tempo_match", +1, 0.1, 1.0),)),
    Check("key_mismatch", False, "the prompt asks a key (\"in A minor\", \"F# major\") and the take's estimated key "
                                 "is more than `max_key_distance` steps round the Camelot wheel from it",
          lambda f, cfg: _over(f.get("key_distance", 0), cfg.max_key_distance,
                               f"{f.get('key_distance', 0):.0f} steps round the Camelot wheel from the asked key"),
          None,
          (Limit("max_key_distance", 1, "key_mismatch label: Camelot steps from the asked key (1 allows a neighbour "
                                        "or the relative key)", 0, 7, integer=True),),
          (Scored("key_match", +1, 0.25, 1.0),)),
    Check("rhythm", False, "`pulse_clarity` < `min_pulse_clarity`",
          lambda f, cfg: (f"no steady pulse (clarity {f['pulse_clarity']:.2f})"
                          if not _silent(f, cfg) and f["pulse_clarity"] < cfg.min_pulse_clarity else None),
          "features:rhythm_of",
          (Limit("min_pulse_clarity", 0.2, "rhythm label: onset autocorrelation peak at 60-200 BPM", 0, 1),),
          (Scored("pulse_clarity", +1, 0.1, 0.5),)),
    Check("tempo", False, "`tempo_drift` > `max_tempo_drift` (when the take has a pulse)",
          lambda f, cfg: (f"tempo drifts {f['tempo_drift']:.1%}"
                          if not _silent(f, cfg) and f["pulse_clarity"] >= cfg.min_pulse_clarity
                          and f["tempo_drift"] > cfg.max_tempo_drift else None),
          "features:rhythm_of",
          (Limit("max_tempo_drift", 0.03, "tempo label: spread of the beat period across 3 s windows", 0),),
          (Scored("tempo_drift", -1, 0.01, 0.5),)),
)
# Scorers with weights but no check of their own (learned.py measures them when it can).
LEARNED = (Scored("clap", +1, 0.02, 2.0), Scored("aesthetics", +1, 0.2, 1.0))

NAMES = tuple(c.name for c in CHECKS)
HARD_DEFAULT = [c.name for c in CHECKS if c.hard]
SCORED = {s.name: s for c in CHECKS for s in c.scores} | {s.name: s for s in LEARNED}
LIMITS = tuple(lim for c in CHECKS for lim in c.limits)


def _number(v: float, integer: bool) -> str:
    return str(int(v)) if integer else repr(float(v))


def docs_checks_table() -> str:
    """The checks table of docs/configuration.md."""
    rows = ["| check | trips when | default |", "|---|---|---|"]
    rows += [f"| `{c.name}` | {c.when} | {'hard' if c.hard else 'label'} |" for c in CHECKS]
    return "\n".join(rows)


def docs_limit_rows() -> str:
    """The config rows of docs/configuration.md's pick table that the checks declare."""
    rows = [f"| `pick.{lim.field}` | {_number(lim.default, lim.integer)} | {lim.meaning} |" for lim in LIMITS]
    rows.append(f"| `pick.hard_checks` | {', '.join(HARD_DEFAULT)} | checks that reject a take |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(docs_checks_table(), docs_limit_rows(), sep="\n\n")
