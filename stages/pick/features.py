"""Signal checks that need no weights (minimal set; see issue 5 for the full picker)."""
from __future__ import annotations

import numpy as np
import pyloudnorm
from scipy import signal


def normalise_loudness(mono: np.ndarray, sr: int, target: float = -23.0) -> np.ndarray:
    """Level-based features are measured on a loudness-normalised copy, so a quiet take is
    not called silent."""
    meter = pyloudnorm.Meter(sr)
    try:
        loud = meter.integrated_loudness(mono.astype(np.float64))
    except ValueError:  # shorter than one gating block
        loud = float("-inf")
    if not np.isfinite(loud):
        return mono
    return mono * (10 ** ((target - loud) / 20))


def features(audio: np.ndarray, sr: int) -> dict[str, float]:
    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    clipping = float(np.mean(np.abs(audio) >= 0.999)) if audio.size else 0.0
    norm = normalise_loudness(mono, sr)
    hop = int(sr * 0.05)
    frames = norm[: len(norm) // hop * hop].reshape(-1, hop) if len(norm) >= hop else norm.reshape(1, -1)
    rms_db = 20 * np.log10(np.sqrt(np.mean(frames ** 2, axis=1)) + 1e-12)
    silence = float(np.mean(rms_db < -60.0)) if len(rms_db) else 1.0
    _, _, spec = signal.stft(mono, fs=sr, nperseg=2048, noverlap=1024)
    power = np.abs(spec) ** 2 + 1e-12
    flatness = np.exp(np.mean(np.log(power), axis=0)) / np.mean(power, axis=0)
    loud_frames = np.mean(power, axis=0) > 1e-8
    flat = float(np.mean(flatness[loud_frames])) if loud_frames.any() else 1.0
    return {"peak": peak, "clipping": clipping, "silence": silence, "flatness": flat}


def rejects(f: dict[str, float], cfg) -> list[str]:
    out = []
    if f["silence"] > cfg.max_silence:
        out.append(f"silent {f['silence']:.0%} of the time")
    if f["clipping"] > cfg.max_clipping:
        out.append(f"clipped {f['clipping']:.1%} of samples")
    if f["flatness"] > cfg.max_flatness:
        out.append(f"noise-like (flatness {f['flatness']:.2f})")
    return out


def score(f: dict[str, float]) -> float:
    """Higher is better: penalise each failure mode smoothly so the least bad take wins."""
    return float(-(f["silence"] * 2 + f["clipping"] * 10 + f["flatness"]))
