"""Melody conditioning for transformers' MusicgenMelody (render.melody, transformers backend).

MusicgenMelody has no cross-attention. The melody's chroma (12 pitch classes per 4096
samples, one-hot on the loudest), projected to the decoder's width and repeated to
`chroma_length` frames, then the projected text states, form a *prefix* of the decoder's
own sequence: the audio tokens attend to it through self-attention, and positions run over
the whole sequence (prefix first). A take without a melody gets transformers' "null" chroma
(pitch class 0 in every frame), as do the unconditional CFG rows.

Why albumgen computes the chroma itself: transformers' MusicgenMelodyFeatureExtractor needs
torchaudio, and every torchaudio wheel on PyPI is a CUDA build that does not load against a
CPU torch (docs/troubleshooting.md). The maths is short: torchaudio's normalised
power spectrogram is torch.stft divided by the window's energy, and the filter bank is
transformers' own `chroma_filter_bank`. tests/test_melody_chroma.py holds it to the
extractor's output where torchaudio loads (the audiocraft environment).

Like transformers' extractor this reads the raw audio: no Demucs stem separation (the
audiocraft backend separates drums and bass out first).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ChromaSettings:
    """The feature extractor's settings (its preprocessor_config.json; these are its defaults
    and those of every facebook/musicgen-*melody* checkpoint)."""

    sampling_rate: int = 32000
    hop_length: int = 4096
    n_fft: int = 16384
    num_chroma: int = 12
    chunk_length: int = 30  # seconds: longer audio is cut, as the extractor does


def chroma_settings(source: str) -> ChromaSettings:
    """A checkpoint's own settings where it ships a preprocessor config, else the defaults."""
    from transformers.feature_extraction_utils import FeatureExtractionMixin

    try:
        found, _ = FeatureExtractionMixin.get_feature_extractor_dict(source)
    except (OSError, ValueError):  # no preprocessor_config.json (a folder saved without it)
        return ChromaSettings()
    fields = ChromaSettings.__dataclass_fields__
    return ChromaSettings(**{k: found[k] for k in fields if k in found})


_filters: dict = {}


def _filter_bank(s: ChromaSettings) -> torch.Tensor:
    if s not in _filters:
        from transformers.audio_utils import chroma_filter_bank

        _filters[s] = torch.from_numpy(chroma_filter_bank(num_frequency_bins=s.n_fft, num_chroma=s.num_chroma,
                                                          sampling_rate=s.sampling_rate, tuning=0)).float()
    return _filters[s]


def chroma(wav: torch.Tensor, s: ChromaSettings) -> torch.Tensor:
    """(frames, num_chroma) one-hot chroma of a mono waveform (samples,) at s.sampling_rate:
    MusicgenMelodyFeatureExtractor's output for that waveform alone."""
    wav = wav.reshape(-1).float()[: s.chunk_length * s.sampling_rate]
    if wav.shape[-1] < s.n_fft:  # as the extractor: centred zero padding up to one FFT
        pad = s.n_fft - wav.shape[-1]
        wav = torch.nn.functional.pad(wav, (pad // 2, pad // 2 + pad % 2))
    window = torch.hann_window(s.n_fft)
    spec = torch.stft(wav[None], n_fft=s.n_fft, hop_length=s.hop_length, win_length=s.n_fft, window=window,
                      center=True, pad_mode="reflect", normalized=False, onesided=True, return_complex=True)
    spec = spec / window.pow(2.0).sum().sqrt()  # torchaudio's normalized=True, in its order of operations
    raw = torch.einsum("cf,...ft->...ct", _filter_bank(s), spec.abs().pow(2.0))
    norm = torch.nn.functional.normalize(raw, p=float("inf"), dim=-2, eps=1e-6).transpose(1, 2)
    return torch.zeros_like(norm).scatter_(-1, norm.argmax(-1, keepdim=True), 1.0)[0]


def take_chromas(melodies: list | None, takes: int, s: ChromaSettings | None, sample_rate: int, frame_rate: int,
                 frame_offset: int, frames: int) -> list[torch.Tensor]:
    """Each take's chroma (frames, num_chroma): its melody's, the part a continuation window
    at frame_offset follows (reference.melody_window), or the null one for None."""
    s = s or ChromaSettings()
    out, seen = [], {}
    for m in melodies or [None] * takes:
        if m is None:
            out.append(null_chroma(s))
            continue
        if id(m) not in seen:  # a track's takes share one melody tensor: one chroma
            wav = melody_window(m, sample_rate, frame_rate, frame_offset, frames) if frame_offset else m
            wav = wav.float().cpu().reshape(-1)
            if s.sampling_rate != sample_rate:  # an extractor at another rate than the model's EnCodec
                from ..audio.signal import resample

                wav = torch.from_numpy(resample(wav.numpy(), sample_rate, s.sampling_rate))
            seen[id(m)] = chroma(wav, s)
        out.append(seen[id(m)])
    return out


def null_chroma(s: ChromaSettings) -> torch.Tensor:
    """transformers' stand-in for "no melody": pitch class 0, one frame (repeated later)."""
    out = torch.zeros(1, s.num_chroma)
    out[:, 0] = 1
    return out


def prefix_states(model, chromas: list[torch.Tensor], text: torch.Tensor, cfg: bool) -> torch.Tensor:
    """The decoder's prefix (rows, chroma_length + text, D): each take's projected chroma
    repeated to chroma_length, then its text states, in transformers' order and arithmetic
    (project, then repeat, then cut). Unconditional rows (when cfg) get the null chroma.
    chromas: one (frames, num_chroma) per take; text: encode_text's states, CFG rows included."""
    n = model.config.chroma_length
    proj = getattr(model, "audio_enc_to_dec_proj", None)
    rows = []
    for c in chromas:
        h = c.to(text.device, text.dtype)[None]
        if proj is not None:
            h = proj(h)
        rows.append(h.repeat(1, math.ceil(n / h.shape[1]), 1)[:, :n])
    audio = torch.cat(rows)
    if cfg:
        null = null_chroma(ChromaSettings(num_chroma=chromas[0].shape[-1])).to(text.device, text.dtype)[None]
        null = (proj(null) if proj is not None else null).repeat(1, n, 1)
        audio = torch.cat([audio, null.expand(len(chromas), -1, -1)])
    return torch.cat([audio, text], dim=1)


def melody_window(melody, sample_rate: int, frame_rate: int, frame_offset: int, frames: int):
    """The part of a melody (…, samples) a continuation window follows, looping it as
    AudioCraft's own long-form generation does (samples from the window's start, modulo its
    length). Both backends use it, so a long take follows the same melody in either."""
    import torch

    rate = sample_rate / frame_rate
    positions = torch.arange(int(frame_offset * rate), int((frame_offset + frames) * rate))
    return melody[..., positions % melody.shape[-1]]
