"""render.backend: audiocraft. MusicGen through Meta's AudioCraft, with albumgen's promises.

AudioCraft's own `generate` samples with `torch.multinomial` from the one global RNG, so a
take's tokens depend on which takes share its batch and in which order. Two ways out: one
take per call with the RNG seeded per take, or albumgen's per-take noise (noise.py) in
AudioCraft's decoding loop. This module does the second: it keeps batches (on a GPU the
main speed lever: one take per call would leave most of it idle), and a take's noise is a
pure function of its seed, step, codebook and token, as in the transformers backend. The
loop below is AudioCraft's `LMModel.generate` (same conditions, delay pattern, streaming
state and CFG) with only the sampling call replaced; each take's conditions are computed
alone (see `generate` for why that matters in AudioCraft).

Sampling keeps AudioCraft's rule: top_p > 0 uses top-p only, otherwise top-k.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from ..console import notice
from ..errors import ModelError
from .audiocraft_tiny import PRESETS, build_tiny, text_encoders_in
from .loaded import LoadedModel
from .melody import melody_window
from .musicgen import folder_hash, pick_device
from .sampling import Sampling, filter_logits

log = logging.getLogger("albumgen")

INSTALL = "pip install 'albumgen[audiocraft]' && pip install --no-deps audiocraft==1.3.0"


def require_audiocraft() -> None:
    """A one-line error naming the install command when the extra is missing or broken."""
    try:
        import audiocraft  # noqa: F401
    except ImportError as e:
        raise ModelError(f"render.backend: audiocraft needs the audiocraft extra ({e.name or e} is not installed)",
                         f"install it: {INSTALL}") from None
    except OSError as e:  # torchaudio's native library built for another torch
        raise ModelError(f"render.backend: audiocraft cannot be imported ({str(e).splitlines()[0][:120]})",
                         "install a torchaudio built for your torch (docs/configuration.md, AudioCraft backend)") from None




def load_audiocraft(model_id: str, device: str = "auto", dtype: str = "auto") -> LoadedModel:
    require_audiocraft()
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # T5 loading bars are noise in a render log
    device = pick_device(device)
    if model_id in PRESETS:
        model = build_tiny(melody=model_id == "tiny-melody", device=device)
        revision = "random"
        notice(log, "tiny-model", "render: render.model is '%s': random weights, the takes are noise (use a real "
               "checkpoint for music)", model_id)
    else:
        model, revision = _load_pretrained(model_id, device)
    lm = model.lm
    if dtype in ("float16", "bfloat16") or (dtype == "auto" and device != "cpu"):
        pass  # AudioCraft runs its LM under autocast (float16) off the CPU, as its own generate does
    return LoadedModel(backend="audiocraft", model=model, model_id=model_id, revision=revision, device=device,
                   dtype=torch.float16 if device != "cpu" else torch.float32,
                   sample_rate=model.sample_rate, frame_rate=int(model.frame_rate),
                   channels=model.audio_channels, num_codebooks=lm.num_codebooks)


def _load_pretrained(model_id: str, device: str):
    from audiocraft.models import MusicGen

    local = Path(os.path.expanduser(model_id))
    if local.is_dir():
        if not (local / "state_dict.bin").is_file():
            raise ModelError(f"render.model: {model_id} is not an AudioCraft checkpoint folder (no state_dict.bin)",
                             "point it at a folder with state_dict.bin and compression_state_dict.bin")
        # A folder may carry its T5 as a subfolder named like it (t5-base/): loads offline.
        with text_encoders_in(local):
            model = MusicGen.get_pretrained(str(local.resolve()), device=device)
        return model, folder_hash(local)
    if model_id.startswith((".", "/", "~")):
        raise ModelError(f"render.model: folder {model_id} does not exist", "point it at a checkpoint folder")
    try:
        model = MusicGen.get_pretrained(model_id, device=device)
    except (OSError, ValueError) as e:
        offline = os.environ.get("HF_HUB_OFFLINE") == "1"
        what = f"render.model: {model_id} is not in the local cache" if offline else \
            f"render.model: cannot load {model_id} through AudioCraft: {str(e).splitlines()[0][:160]}"
        raise ModelError(what, f"on a machine with internet run `hf download {model_id}` and `hf download t5-base`, "
                               "then copy ~/.cache/huggingface here") from None
    return model, "hub"


class AudioCraftLoop:
    """The render engine's loop interface (as FastLoop) over an AudioCraft MusicGen."""

    def __init__(self, lm: LoadedModel):
        import torch

        self.lm = lm
        self.device = torch.device(lm.device)
        self.graphs_off = None  # no CUDA graphs here: AudioCraft's own modules run eagerly

    def reset(self) -> None:
        """Nothing is kept between batches (the streaming state lives inside one call)."""

    def kv_bytes_per_take(self, window_frames: int, text_len: int = 64, cfg: bool = True) -> int:
        import torch

        lm = self.lm.model.lm
        layers = len(lm.transformer.layers)
        per_pos = 2 * layers * lm.dim * torch.finfo(self.lm.dtype).bits // 8
        return (2 if cfg else 1) * per_pos * (window_frames + lm.num_codebooks + 1 + text_len)

    def take_conditions(self, prompt: str, cfg: bool, melody=None) -> dict:
        """One take's condition tensors, tokenized with its unconditional twin as AudioCraft's
        generate does for a batch of one: rows (conditional, unconditional) or (conditional,)."""
        from audiocraft.modules.conditioners import ClassifierFreeGuidanceDropout

        attrs = [self._attributes(prompt, melody)]
        if cfg:
            attrs += ClassifierFreeGuidanceDropout(p=1.0)(attrs)
        provider = self.lm.model.lm.condition_provider
        return provider(provider.tokenize(attrs))

    def _attributes(self, prompt: str, melody):
        import torch
        from audiocraft.modules.conditioners import ConditioningAttributes, WavCondition

        attr = ConditioningAttributes(text={"description": prompt})
        if self.lm.melody:
            dev = self.device
            wav = torch.zeros((1, 1, 1), device=dev) if melody is None else melody[None].to(dev)
            attr.wav["self_wav"] = WavCondition(wav, torch.tensor([wav.shape[-1]], device=dev),
                                                sample_rate=[self.lm.sample_rate], path=[None])
        return attr

    def generate(self, prompts: list[str], seeds: list[int], frames: int, sampling: Sampling,
                 prompt_codes=None, frame_offset: int = 0, on_step=None, rows: int | None = None,
                 melodies: list | None = None):
        """Tokens (batch, codebooks, frames); the first prompt_codes.shape[-1] frames are the
        given prompt. frame_offset is the absolute frame of this window's start.

        AudioCraft's cross-attention has no mask: padded text positions (zeros) still take
        attention weight, so a take's tokens would depend on the longest prompt in its batch.
        So takes are decoded in groups whose conditions have the same shapes (a track's takes
        share a prompt, so a group is at least a track's takes), each exactly as if alone.
        `rows` (a set batch size: one shape for CUDA's kernels, as in FastLoop): each group is
        computed in exactly that many rows, padded with copies of its last take, so a take's
        row count never depends on which takes shared its batch (a batch mixing prompt
        lengths then costs a pass of `rows` per group)."""
        import torch

        model = self.lm.model
        if sampling.top_p > 0:  # AudioCraft: top-p replaces top-k
            sampling = Sampling(top_k=0, top_p=sampling.top_p, temperature=sampling.temperature, cfg=sampling.cfg,
                                greedy=sampling.greedy)
        if melodies is not None and frame_offset:
            melodies = [None if m is None else self.melody_window(m, frame_offset, frames) for m in melodies]
        out = [None] * len(prompts)
        with torch.no_grad(), model.autocast:
            conds = [self.take_conditions(p, sampling.cfg > 1, None if melodies is None else melodies[i])
                     for i, p in enumerate(prompts)]
            groups: dict = {}
            for i, c in enumerate(conds):
                groups.setdefault(tuple((n, tuple(e.shape)) for n, (e, _) in sorted(c.items())), []).append(i)
            for gi, group in enumerate(groups.values()):
                def progress(step, total, gi=gi):
                    if on_step is not None:
                        on_step(int((gi + step / total) / len(groups) * total), total)

                padded = group + group[-1:] * ((rows or 0) - len(group))
                codes = self._decode([conds[i] for i in padded], [seeds[i] for i in padded], frames, sampling,
                                     None if prompt_codes is None else prompt_codes[padded], frame_offset, progress)
                for j, i in enumerate(group):
                    out[i] = codes[j]
        return torch.stack(out)

    def melody_window(self, melody, frame_offset: int, frames: int):
        """The part of a melody a continuation window follows, looping it as AudioCraft's
        own long-form generation does (samples from the window's start, modulo its length)."""
        return melody_window(melody, self.lm.sample_rate, self.lm.frame_rate, frame_offset, frames)

    def _decode(self, conds: list[dict], seeds: list[int], frames: int, sampling: Sampling, prompt_codes,
                frame_offset: int, on_step):
        """AudioCraft's LMModel.generate loop for same-shaped conditions, sampling replaced."""
        import torch

        from . import noise

        lm = self.lm.model.lm
        b, k = len(seeds), lm.num_codebooks
        use_cfg = sampling.cfg > 1
        # conditional rows first, then the unconditional ones, as AudioCraft orders them
        cond = {name: tuple(torch.cat([c[name][j][r:r + 1] for r in range(2 if use_cfg else 1) for c in conds])
                            for j in range(2)) for name in conds[0]}
        pattern = lm.pattern_provider.get_pattern(frames)
        known = 0 if prompt_codes is None else prompt_codes.shape[-1]
        codes = torch.full((b, k, frames), -1, dtype=torch.long, device=self.device)
        if known:
            codes[..., :known] = prompt_codes.to(self.device)
        seq, _, mask = pattern.build_pattern_sequence(codes, lm.special_token_id)
        start = pattern.get_first_step_with_timesteps(known)
        keys = noise.take_keys(seeds, self.device)
        counters = noise.token_counters(k, lm.card, self.device)
        total = seq.shape[-1] - start
        with lm.streaming():
            prev = 0
            for offset in range(start, seq.shape[-1]):
                x = seq[..., prev:offset]
                logits = lm(torch.cat([x, x]) if use_cfg else x, conditions=[], condition_tensors=cond)
                logits = logits[:, :, -1, :].float()
                if use_cfg:
                    c, u = logits.split(b)
                    logits = u + (c - u) * sampling.cfg
                if sampling.greedy:
                    nxt = logits.argmax(-1)
                else:
                    # the absolute position, so each continuation window draws fresh noise
                    g = noise.gumbel(keys, frame_offset + offset, counters)
                    nxt = (filter_logits(logits, sampling) + g).argmax(-1)
                nxt = torch.where(mask[:, offset][None].expand(b, -1), nxt, lm.special_token_id)
                col = seq[..., offset]
                seq[..., offset] = torch.where(col == -1, nxt, col)
                prev = offset
                if on_step is not None:
                    on_step(offset - start + 1, total)
        out, _, _ = pattern.revert_pattern_sequence(seq, special_token=-1)
        return out[..., :frames]


def decode_tokens(lm: LoadedModel, codes):
    """Audio (batch, channels, samples) float32 from tokens (batch, codebooks, frames)."""
    import torch

    with torch.no_grad():
        audio = lm.model.compression_model.decode(codes.to(lm.device), None)
    return audio.float().cpu()


def encode_audio(lm: LoadedModel, wav):
    """Tokens (1, codebooks, frames) of a (channels, samples) waveform at the model's rate."""
    import torch

    with torch.no_grad():
        codes, _scale = lm.model.compression_model.encode(wav[None].to(lm.device))
    return codes
