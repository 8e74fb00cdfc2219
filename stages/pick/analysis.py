"""One shared front end for every weight-free scorer: mono, a fixed analysis rate, a
loudness-normalised copy, one STFT and band energies. Computing these once is what keeps
the always-on scorers under 1 s of CPU per 30 s take.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from albumgen.audio import loudness
from albumgen.audio.signal import resample, to_mono

RATE = 22050  # Nyquist 11 kHz still covers the 3.5-11 kHz band where harsh screeches live
N_FFT = 1024
HOP = 256  # 11.6 ms: fine enough to time an onset or a hard cut
TARGET_LUFS = -23.0
N_BANDS = 40
SILENT_DB = -60.0  # frame RMS on the normalised copy, i.e. ~37 dB under the programme


@dataclass
class Analysis:
    seconds: float
    loudness: float  # integrated LUFS of the take as given (before normalising)
    mono: np.ndarray  # normalised, at RATE
    power: np.ndarray  # (frames, bins) STFT power of `mono`
    bands_db: np.ndarray  # (frames, N_BANDS) log-spaced band energies, dB
    frame_db: np.ndarray  # (frames,) RMS per hop, dB, of `mono`
    freqs: np.ndarray
    source: np.ndarray | None = None  # the audio as given: what is measured before resampling (clipping)
    source_rate: int = 0
    joins: list[float] = field(default_factory=list)  # seconds where render's windows meet
    memo: dict = field(default_factory=dict)  # what one extractor measured that another reads

    @property
    def frame_rate(self) -> float:
        return RATE / HOP


def to_rate(mono: np.ndarray, sr: int) -> np.ndarray:
    return resample(mono, sr, RATE)


def integrated_loudness(mono: np.ndarray) -> float:
    # The front end's measure: the same figure master reads, short and silent takes included.
    return loudness.integrated_loudness(mono, RATE)


def analyse(audio: np.ndarray, sr: int, joins: list[float] | None = None) -> Analysis:
    """`audio` is (frames,) or (frames, channels), float or integer PCM."""
    mono = to_rate(to_mono(audio).astype(np.float64), sr)
    loud = integrated_loudness(mono)
    peak = float(np.max(np.abs(mono))) if mono.size else 0.0
    if peak > 0:
        # Level features on a loudness-normalised copy: a quiet take is not a silent one.
        # Scaling to a fixed peak first lifts even a very quiet take above BS.1770's
        # -70 LUFS gate, so its loudness can be measured at all.
        mono = mono * (0.5 / peak)
        norm = integrated_loudness(mono)
        if np.isfinite(norm):
            mono = mono * 10 ** ((TARGET_LUFS - norm) / 20)
    if len(mono) < N_FFT:
        mono = np.pad(mono, (0, N_FFT - len(mono)))
    mono32 = mono.astype(np.float32)
    from scipy import signal  # a second of start-up for every command (albumgen --help)

    _, _, spec = signal.stft(mono32, fs=RATE, window="hann", nperseg=N_FFT, noverlap=N_FFT - HOP,
                             boundary=None, padded=False)
    power = (spec.real ** 2 + spec.imag ** 2).T.astype(np.float32)  # (frames, bins)
    freqs = np.fft.rfftfreq(N_FFT, 1 / RATE)
    bands_db = 10 * np.log10(power @ _band_matrix(freqs) + 1e-10)
    frames = power.shape[0]
    # Frame RMS from the time signal, aligned with the STFT frames (each centred on its hop).
    starts = np.arange(frames) * HOP + (N_FFT - HOP) // 2
    idx = starts[:, None] + np.arange(HOP)[None, :]
    frame_db = 10 * np.log10(np.mean(mono32[np.minimum(idx, len(mono32) - 1)] ** 2, axis=1) + 1e-12)
    return Analysis(seconds=len(mono) / RATE, loudness=loud, mono=mono, power=power, bands_db=bands_db,
                    frame_db=frame_db, freqs=freqs, source=audio, source_rate=sr, joins=list(joins or []))


def onset_envelope(a: Analysis) -> np.ndarray:
    """Spectral flux: summed rise of the band levels from one hop to the next. Bands more
    than 50 dB under the loudest are held at that floor: their flicker is not an onset."""
    flux = np.maximum(np.diff(np.maximum(a.bands_db, a.bands_db.max() - 50.0), axis=0), 0.0).sum(axis=1)
    return flux


_BANDS: dict[int, np.ndarray] = {}


def _band_matrix(freqs: np.ndarray) -> np.ndarray:
    """Triangular filters spaced evenly in log frequency, 40 Hz to Nyquist."""
    key = len(freqs)
    if key not in _BANDS:
        edges = np.geomspace(40.0, RATE / 2, N_BANDS + 2)
        m = np.zeros((len(freqs), N_BANDS), dtype=np.float32)
        for b in range(N_BANDS):
            lo, mid, hi = edges[b], edges[b + 1], edges[b + 2]
            up = (freqs - lo) / (mid - lo)
            down = (hi - freqs) / (hi - mid)
            m[:, b] = np.clip(np.minimum(up, down), 0, None)
            if not m[:, b].any():  # narrower than one bin at the bottom: take the nearest bin
                m[np.argmin(np.abs(freqs - mid)), b] = 1.0
        _BANDS[key] = m
    return _BANDS[key]
