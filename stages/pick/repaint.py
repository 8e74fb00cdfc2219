"""Repaint instead of re-render: when the take pick keeps fails only LOCAL checks (a dropout,
a stuck loop, a seam, a jump, an ending that stops dead or collapses early) and its backend
kept latents (render.backend: acestep), ask render to make that span again rather than a
whole new take. The span is found in the take's audio and padded out to whole beats; the
result is a new take derived from its parent, scored beside the others at the next pick.

The pick record carries the requests (`repaints`), cumulative like extra_takes: a request
is never taken back, so render keeps its repaint takes and their records.
"""
from __future__ import annotations

import numpy as np

from albumgen.audio.signal import to_mono

# Checks whose failure sits in one place of a take; any other hard failure (noise, drone,
# clipping...) is the whole take's, and only a new take helps.
LOCAL = ("dropout", "stuck", "seam", "jump", "abrupt_end", "silence")
ENDING = 4.0  # seconds of ending made again when a take stops dead
PAD = 0.25  # seconds either side of a span when the take has no steady beat to snap to
FRAME = 0.02  # seconds per level frame


def ask_repaints(cfg, prev, repaintable: set[int], takes: list[dict], data: dict, read, log=None) -> dict:
    """`data` (pick's decision) with a repaint asked for in place of a retry round, when the
    kept take is worth mending. prev: the track's previous Pick; `read(rel)` gives (audio, sr)
    of a take's wav."""
    prev_repaints = list(getattr(prev, "repaints", None) or [])
    out = {**data, "repaints": prev_repaints}
    if not cfg.repaint or data.get("manual") or len(prev_repaints) >= cfg.max_repaints:
        return out
    best = next(t for t in takes if t["take"] == data["choice"])
    failed = {c["check"] for c in best.get("checks", []) if c["hard"]}
    if best["take"] not in repaintable or not failed or not failed <= set(LOCAL):
        return out
    if any(r["take"] == best["take"] for r in prev_repaints):
        return out  # mended once already; its repaint is among the takes and failed too
    audio, sr = read(best["wav"])
    spans = [s for check in sorted(failed) for s in locate(check, audio, sr, best.get("features", {}))]
    if not spans:
        return out
    start, end = snap(merge(spans), audio, sr)
    out["repaints"] = prev_repaints + [{"take": best["take"], "start": round(start, 3), "end": round(end, 3),
                                        "why": ", ".join(sorted(failed)), "n": len(prev_repaints) + 1}]
    # In place of the retry round this decision may have asked for: the one repaint is what
    # render makes next (a person's `--more` takes stay asked for).
    if data["retry_rounds"] > (prev.retry_rounds if prev else 0):
        out.update(extra_takes=data["extra_takes"] - cfg.retry_takes, retry_rounds=data["retry_rounds"] - 1,
                   wants_takes=data["wants_takes"] - cfg.retry_takes)
    out["wants_takes"] += 1
    if log is not None:
        log.info("pick: take %d fails only where it %s: making %.2f-%.2f s of it again%s", best["take"],
                 "/".join(sorted(failed)), start, end, " instead of new takes" if out["extra_takes"] < data["extra_takes"]
                 else "")
    return out




def levels_db(audio: np.ndarray, sr: int) -> np.ndarray:
    mono = to_mono(audio)  # the front end's fold, as every stage's
    hop = max(1, int(FRAME * sr))
    n = len(mono) // hop
    rms = np.sqrt(np.mean(mono[:n * hop].astype(np.float64).reshape(n, hop) ** 2, axis=1))
    return 20 * np.log10(rms + 1e-9)


def locate(check: str, audio: np.ndarray, sr: int, features: dict) -> list[tuple[float, float]]:
    """Where in the take a local check failed, in seconds (unpadded)."""
    seconds = len(audio) / sr
    db = levels_db(audio, sr)
    if check == "jump":
        at = float(features.get("jump_at", 0.0))
        return [(at - 1.0, at + 1.0)] if at > 0 else []
    if check == "abrupt_end":
        return [(seconds - ENDING, seconds)]
    if check == "silence":  # the sound collapses before the end: remake from the collapse on
        loud = np.flatnonzero(db > db.max() - 40.0)
        last = (loud[-1] + 1) * FRAME if loud.size else 0.0
        return [(last - 1.0, seconds)] if last < seconds - 0.5 else []
    if check == "dropout":  # the gaps themselves: falls of 35 dB under the local level
        from scipy.ndimage import median_filter

        ref = median_filter(db, size=max(3, int(2.5 / FRAME)), mode="nearest")
        gap = np.concatenate([[0], (db < ref - 35.0).astype(np.int8), [0]])
        edges = np.flatnonzero(np.diff(gap))
        return [(s * FRAME, e * FRAME) for s, e in zip(edges[::2], edges[1::2]) if 0.06 <= (e - s) * FRAME <= 1.5]
    if check == "stuck" and features.get("stuck_end", 0.0) > features.get("stuck_at", 0.0):
        return [(float(features["stuck_at"]), float(features["stuck_end"]))]  # the repeating stretch
    if check in ("stuck", "seam"):  # where the level changes most sharply: the join or the loop's start
        if len(db) < 3:
            return []
        at = float(np.argmax(np.abs(np.diff(db))) * FRAME)
        return [(at - 1.0, at + 1.0)]
    return []


def merge(spans: list[tuple[float, float]]) -> tuple[float, float]:
    """One span covering them all: one repaint per round keeps the take's parts in one piece."""
    return min(s for s, _ in spans), max(e for _, e in spans)


def snap(span: tuple[float, float], audio: np.ndarray, sr: int) -> tuple[float, float]:
    """The span widened to the beats around it (a repaint that starts and ends on a beat joins
    in time), or by PAD without a steady beat; inside the take."""
    from albumgen.audio.music import analyse

    seconds = len(audio) / sr
    start, end = max(0.0, span[0]), min(seconds, span[1])
    found = analyse(audio, sr).beats
    beats = np.asarray(found if found is not None else [], dtype=float)
    before, after = beats[beats <= start], beats[beats >= end]
    start = float(before[-1]) if before.size else start - PAD
    end = float(after[0]) if after.size else end + PAD
    return max(0.0, start), min(seconds, end)
