"""MusicGen through transformers: load a checkpoint (hub id, local folder or `tiny`), its
text conditioning, its delay pattern, and EnCodec both ways (audio to tokens and back)."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from ..console import notice
from ..errors import ModelError
from .loaded import LoadedModel
from .tiny import PRESETS, build_preset, byte_tokenizer

log = logging.getLogger("albumgen")




def pick_device(device: str = "auto") -> str:
    import torch

    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def check_device(device: str) -> None:
    """Refuse, before any work, a device this machine does not have: torch's own error
    comes only when the model moves there, after the prompts (and maybe an LLM) ran."""
    if device in ("auto", "cpu"):
        return
    import torch

    fix = "set render.device to auto (or cpu)"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            build = f"torch {torch.__version__}" + ("" if torch.version.cuda else ", a CPU-only build")
            raise ModelError(f"render.device is {device} but this machine has no usable CUDA GPU ({build})",
                             f"{fix}, or build on a machine with an NVIDIA GPU and a CUDA build of torch")
        index = int(device.split(":")[1]) if ":" in device else 0
        count = torch.cuda.device_count()
        if index >= count:
            raise ModelError(f"render.device is {device} but this machine has {count} CUDA GPU(s)",
                             f"use cuda:0 to cuda:{count - 1}, or auto")
    elif device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ModelError("render.device is mps but this machine has no usable Apple GPU (MPS)", fix)


def pick_dtype(device: str, dtype: str = "auto"):
    import torch

    if dtype != "auto":
        return {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16, "fp16": torch.float16,
                "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}[dtype]
    if device.startswith("cuda"):  # cuda:N too; asked of that device, not the current one
        with torch.cuda.device(torch.device(device)):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device == "mps":
        return torch.float16
    return torch.float32


def load_musicgen(model_id: str, device: str = "auto", dtype: str = "auto") -> LoadedModel:
    import transformers

    transformers.logging.set_verbosity_error()  # config warnings about pad ids are noise here
    device = pick_device(device)
    torch_dtype = pick_dtype(device, dtype)
    if model_id in PRESETS:
        model = build_preset(model_id)
        tokenizer = byte_tokenizer()
        revision = "random"
        notice(log, "tiny-model", "render: render.model is '%s': random weights, the takes are noise (use a real "
               "checkpoint for music)", model_id)
    else:
        model, tokenizer, revision = _load_pretrained(model_id, torch_dtype)
    model = model.to(device=device, dtype=torch_dtype).eval()
    enc = model.config.audio_encoder
    dec = model.config.decoder
    chroma = None
    if model.config.model_type == "musicgen_melody":
        from .melody import ChromaSettings, chroma_settings

        chroma = ChromaSettings() if model_id in PRESETS else chroma_settings(_source(model_id))
    return LoadedModel(model=model, tokenizer=tokenizer, model_id=model_id, revision=revision, device=device,
                       dtype=torch_dtype, sample_rate=enc.sampling_rate, frame_rate=int(enc.frame_rate),
                       channels=dec.audio_channels, num_codebooks=dec.num_codebooks, chroma=chroma)


def _source(model_id: str) -> str:
    local = Path(os.path.expanduser(model_id))
    return str(local) if local.is_dir() else model_id


def _load_pretrained(model_id: str, torch_dtype):
    from transformers import AutoTokenizer

    local = Path(os.path.expanduser(model_id))
    is_local = local.is_dir()
    if not is_local and (model_id.startswith((".", "/", "~")) or os.sep in model_id.strip("/").split("/", 1)[-1]):
        raise ModelError(f"render.model: folder {model_id} does not exist", "point it at a saved checkpoint folder")
    source = str(local) if is_local else model_id
    try:
        model = _model_class(source).from_pretrained(source, dtype=torch_dtype)
        tokenizer = AutoTokenizer.from_pretrained(source)
    except OSError as e:
        offline = os.environ.get("HF_HUB_OFFLINE") == "1" or "offline" in str(e).lower() or "connect" in str(e).lower()
        if is_local:
            raise ModelError(f"render.model: {model_id} is not a MusicGen checkpoint folder ({e.__class__.__name__})",
                             "save one with model.save_pretrained() and tokenizer.save_pretrained()") from None
        from .checkpoints import TRY_TINY, suggest

        near = suggest(model_id)
        how = (f"did you mean {near}? {TRY_TINY}" if near and near != model_id else
               f"on a machine with internet run `hf download {model_id} --local-dir {model_id.split('/')[-1]}`, "
               f"copy that folder here and set render.model to its path; {TRY_TINY}")
        what = f"render.model: {model_id} is not in the local cache" if offline else \
            f"render.model: cannot load {model_id}: {str(e).splitlines()[0][:160]}"
        raise ModelError(what, how) from None
    commit = getattr(model.config, "_commit_hash", None)
    revision = folder_hash(local) if is_local else (commit or "unknown")
    return model, tokenizer, revision


def _model_class(source: str):
    """MusicgenMelody or Musicgen, from the checkpoint's config (not from its name: a folder
    may be called anything)."""
    from transformers import AutoConfig, MusicgenForConditionalGeneration, MusicgenMelodyForConditionalGeneration

    try:
        melody = AutoConfig.from_pretrained(source).model_type == "musicgen_melody"
    except ValueError:  # a config transformers does not know: from_pretrained says what is wrong
        melody = False
    return MusicgenMelodyForConditionalGeneration if melody else MusicgenForConditionalGeneration


def folder_hash(folder: Path) -> str:
    """A cheap content identity for a local checkpoint: names and sizes of its weight files."""
    from ..engine.store.hashing import sha256_json

    files = sorted((p.name, p.stat().st_size) for p in folder.iterdir() if p.is_file())
    return "folder:" + sha256_json(files)[:16]


def decode_tokens(lm: LoadedModel, codes) -> Any:
    """Audio (batch, channels, samples) float32 from tokens (batch, codebooks, frames) with the
    delay pattern already removed, through the model's EnCodec."""
    import torch

    with torch.no_grad():
        codes = codes.to(lm.device)
        b, k, t = codes.shape
        ae = lm.model.audio_encoder
        if lm.channels == 2:
            # Stereo checkpoints interleave codebooks: even ones are left, odd ones right.
            left = ae.decode(codes[:, 0::2].unsqueeze(0), [None]).audio_values
            right = ae.decode(codes[:, 1::2].unsqueeze(0), [None]).audio_values
            audio = torch.cat([left, right], dim=1)
        else:
            audio = ae.decode(codes.unsqueeze(0), [None]).audio_values
    return audio.float().cpu()


def encode_audio(lm: LoadedModel, x):
    """Tokens (1, codebooks, frames) of a (channels, samples) waveform at the model's rate."""
    import torch

    ae = lm.model.audio_encoder
    # EnCodec encodes at its config's bandwidth, which may mean more codebooks than the
    # LM reads; the quantizer is residual, so the first ones are the LM's tokens.
    k = lm.num_codebooks // lm.channels
    with torch.no_grad():
        x = x[None].to(lm.device, lm.dtype)
        if lm.channels == 2:  # stereo checkpoints interleave codebooks: even ones left, odd ones right
            left, right = (ae.encode(x[:, c:c + 1]).audio_codes[0][:, :k] for c in (0, 1))
            return torch.stack([left, right], dim=2).flatten(1, 2)
        return ae.encode(x).audio_codes[0][:, :k]


def encode_text(lm, prompts: list[str], cfg: float):
    """Encoder states for the decoder's cross-attention, with the unconditional half appended
    when guidance is on (exactly as transformers' generate builds them)."""
    import torch

    model = lm.model
    ids, mask = lm.tokenize(prompts)
    h = model.text_encoder(input_ids=ids, attention_mask=mask).last_hidden_state
    if cfg > 1:
        h = torch.cat([h, torch.zeros_like(h)], dim=0)
        mask = torch.cat([mask, torch.zeros_like(mask)], dim=0)
    # MusicgenMelody's decoder config has no cross_attention_hidden_size: it always projects.
    if model.text_encoder.config.hidden_size != model.decoder.config.hidden_size and \
            getattr(model.decoder.config, "cross_attention_hidden_size", None) is None:
        h = model.enc_to_dec_proj(h)
    h = h * mask[..., None].to(h.dtype)
    return h, mask


def undelay(seq, num_codebooks: int, channels: int, frames: int):
    """(batch*codebooks, 1+steps) in the delay pattern -> (batch, codebooks, frames)."""
    import torch

    seq = seq.reshape(-1, num_codebooks, seq.shape[-1])
    rows = []
    for k in range(num_codebooks):
        delay = k // 2 if channels == 2 else k  # stereo interleaves L/R codebooks with equal delays
        rows.append(seq[:, k, 1 + delay: 1 + delay + frames])
    return torch.stack(rows, dim=1)
