"""Optional learned scorers: CLAP prompt adherence and audiobox-aesthetics.

They run only when their weights are already on the machine (a local folder or the
Hugging Face cache); the picker never downloads. A missing scorer is skipped with its
reason, which the pick records and logs, and the weight-free scorers decide alone.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from albumgen.audio.signal import resample, to_mono
from albumgen.console import notice

CLAP_WINDOW_S = 10.0  # CLAP's own input length; fixed windows, since random crops drift

_loaded: dict[str, Any] = {}
_logged: set[tuple[str, str]] = set()


@contextlib.contextmanager
def _offline():
    """Any hub call inside looks in the local cache only, whatever the environment says."""
    old = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _local_folder(ref: str, base_dir: Path | None) -> Path | None:
    for cand in ([base_dir / ref] if base_dir else []) + [Path(ref).expanduser()]:
        if cand.is_dir():
            return cand.resolve()
    try:
        from huggingface_hub import snapshot_download

        with _offline():
            return Path(snapshot_download(ref, local_files_only=True))
    except Exception:  # not cached, not a valid id, no hub library: all mean "not here"
        return None


def clap_folder(cfg, base_dir: Path | None = None) -> tuple[Path | None, str | None]:
    """(folder, None) when CLAP can run, else (None, why not)."""
    if not cfg.clap_model:
        return None, "off (pick.clap_model is null)"
    folder = _local_folder(cfg.clap_model, base_dir)
    if folder is None:
        return None, (f"weights for {cfg.clap_model} are not on this machine (download them once with "
                      f"`hf download {cfg.clap_model}` to enable it)")
    return folder, None


def aesthetics_checkpoint(cfg, base_dir: Path | None = None) -> tuple[str | None, str | None]:
    if not cfg.aesthetics:
        return None, "off (pick.aesthetics is false)"
    try:
        import audiobox_aesthetics  # noqa: F401
    except ImportError:
        return None, "audiobox-aesthetics is not installed (pip install audiobox_aesthetics)"
    if cfg.aesthetics_checkpoint:
        path = Path(cfg.aesthetics_checkpoint).expanduser()
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        return (str(path), None) if path.is_file() else (None, f"{path} does not exist")
    try:
        from huggingface_hub import try_to_load_from_cache

        hit = try_to_load_from_cache("facebook/audiobox-aesthetics", "checkpoint.pt")
    except Exception:
        hit = None
    if isinstance(hit, str):
        return hit, None
    return None, "audiobox-aesthetics weights are not cached (set pick.aesthetics_checkpoint)"


def availability(cfg, base_dir: Path | None = None) -> dict[str, str | None]:
    """scorer -> None when usable, else the reason it is skipped. Cheap: no model loads."""
    return {"clap": clap_folder(cfg, base_dir)[1], "aesthetics": aesthetics_checkpoint(cfg, base_dir)[1]}


def clap_windows(frames: int, rate: int) -> list[tuple[int, int]]:
    """(start, length) of the fixed windows CLAP sees: back to back from the start; a tail
    shorter than half a window is dropped (repeat-padded, a few seconds would count as
    much as ten). Fixed, not random, so a take always gets the same score."""
    win = int(CLAP_WINDOW_S * rate)
    starts = [s for s in range(0, max(1, frames), win) if s == 0 or frames - s >= win // 2]
    return [(s, min(win, frames - s)) for s in starts]


class LearnedScorers:
    """Loads what is available once, then scores takes one by one."""

    def __init__(self, cfg, base_dir: Path | None = None, log=None):
        self.cfg, self.base_dir, self.log = cfg, base_dir, log
        self.skipped: dict[str, str] = {}
        self._text: dict[str, np.ndarray] = {}
        self._clap = self._aes = None
        folder, why = clap_folder(cfg, base_dir)
        if folder is not None:
            why = self._try(lambda: self._load_clap(folder))
        if why:
            self.skipped["clap"] = why
        ckpt, why = aesthetics_checkpoint(cfg, base_dir)
        if ckpt is not None:
            why = self._try(lambda: self._load_aesthetics(ckpt))
        if why:
            self.skipped["aesthetics"] = why
        for name, reason in self.skipped.items():
            if log is not None and (name, reason) not in _logged:  # once per process, not per round
                _logged.add((name, reason))
                notice(log, f"scorer-skipped:{name}", "pick: %s scorer skipped: %s", name, reason, level=logging.INFO)

    @staticmethod
    def _try(load) -> str | None:
        try:
            load()
            return None
        except Exception as e:  # a broken or partial download must not stop the album
            return f"cannot load: {type(e).__name__}: {e}"

    def _load_clap(self, folder: Path) -> None:
        from transformers import ClapModel, ClapProcessor

        key = f"clap:{folder}"
        if key not in _loaded:
            with _offline():
                _loaded[key] = (ClapModel.from_pretrained(folder).eval(), ClapProcessor.from_pretrained(folder))
        self._clap = _loaded[key]

    def _load_aesthetics(self, ckpt: str) -> None:
        from audiobox_aesthetics import infer

        key = f"aes:{ckpt}"
        if key not in _loaded:
            with _offline():
                if hasattr(infer, "initialize_predictor"):  # newer releases
                    _loaded[key] = infer.initialize_predictor(ckpt=ckpt)
                else:  # the first release: build and set up the predictor by hand
                    predictor = infer.AesWavlmPredictorMultiOutput(checkpoint_pth=ckpt, data_col="path")
                    predictor.setup_model()
                    _loaded[key] = predictor
        self._aes = _loaded[key]

    def score(self, audio: np.ndarray, sr: int, prompt: str | None) -> dict[str, float]:
        out: dict[str, float] = {}
        if self._clap is not None and prompt:
            out["clap"] = round(self._clap_score(audio, sr, prompt), 5)
        if self._aes is not None:
            out.update(self._aesthetics(audio, sr))
        return out

    def _clap_score(self, audio: np.ndarray, sr: int, prompt: str) -> float:
        import torch

        model, processor = self._clap
        rate = processor.feature_extractor.sampling_rate
        mono = resample(to_mono(audio).astype(np.float32), sr, rate)
        windows = [mono[s:s + n] for s, n in clap_windows(len(mono), rate)]
        with torch.no_grad():
            inputs = processor(audio=windows, sampling_rate=rate, return_tensors="pt")
            emb = _features(model.get_audio_features(**inputs))
            emb = torch.nn.functional.normalize(emb, dim=-1).mean(dim=0)
            if prompt not in self._text:
                # Truncated to the text model's positions: a prompt longer than them (max_chars
                # has no upper bound) would otherwise index past the position table.
                tok = processor(text=[prompt], return_tensors="pt", padding=True, truncation=True,
                                max_length=_text_positions(model))
                self._text[prompt] = torch.nn.functional.normalize(_features(model.get_text_features(**tok)), dim=-1)[0]
            return float(torch.nn.functional.cosine_similarity(emb, self._text[prompt], dim=0))

    def _aesthetics(self, audio: np.ndarray, sr: int) -> dict[str, float]:
        import torch

        wav = torch.from_numpy(np.ascontiguousarray(np.atleast_2d(audio.T if audio.ndim == 2 else audio)))
        res = self._aes.forward([{"path": wav.float(), "sample_rate": sr}])[0]
        if isinstance(res, str):  # the first release returns each row as a JSON string
            res = json.loads(res)
        axes = {k.lower(): float(v) for k, v in res.items()}
        # Production complexity (PC) says how busy a take is, not how good: left out.
        good = [axes[k] for k in ("ce", "cu", "pq") if k in axes]
        return {**{f"aes_{k}": round(v, 4) for k, v in axes.items()},
                "aesthetics": round(float(np.mean(good)), 4) if good else 0.0}


def _text_positions(model) -> int:
    cfg = model.config.text_config
    # CLAP's text tower is RoBERTa: position ids start after the padding index, so the usable
    # length is max_position_embeddings - (pad_token_id + 1) (512 tokens for the real model).
    return cfg.max_position_embeddings - ((cfg.pad_token_id or 0) + 1)


def _features(out):
    """get_*_features returns a tensor, or an output object in newer transformers."""
    if hasattr(out, "ndim"):
        return out
    pooled = getattr(out, "pooler_output", None)
    return pooled if pooled is not None else out[0]
