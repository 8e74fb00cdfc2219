"""render.backend: acestep. ACE-Step 1.5 through diffusers' AceStepPipeline, with albumgen's promises.

Whole songs in one pass: a take is one latent sequence (25 frames a second, 48 kHz stereo
out of the Oobleck VAE), denoised in a few flow-matching steps. The pipeline's own
`__call__` is not batch-independent: it pads the prompts of a batch to the longest (the
DiT's cross-attention has no mask, so padding takes attention weight), takes one bpm and
key for the whole batch, and decodes the batch through the VAE at once (batched
convolutions round differently). So albumgen drives the pipeline's parts itself:

- each take's conditions are encoded alone (text encoder, condition encoder), with its
  own bpm, key and lyrics; takes whose conditions have the same shape share DiT passes;
- each take's starting noise comes from its own `torch.Generator` seeded with its seed;
- a lone take is computed beside a copy of itself: torch computes a one-row matrix
  product (the timestep embedding) as a matrix-vector product, which sums in another
  order, so one row would round differently from the same row in a batch;
- each take is decoded by the VAE alone.

A take's clean latents are saved: decoding them again gives its audio back exactly, and a
repaint starts from them (no VAE encode of the parent's audio).
"""
from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..console import notice
from ..errors import ModelError
from .acestep_tiny import PRESETS, build_tiny_acestep

log = logging.getLogger("albumgen")

INSTALL = "pip install 'albumgen[acestep]'"
TARGET_PEAK = 10.0 ** (-1.0 / 20.0)  # the pipeline's output level: peak at -1 dBFS


def require_diffusers() -> None:
    """A one-line error naming the install command when the extra is missing or too old."""
    try:
        from diffusers import AceStepPipeline  # noqa: F401
    except ImportError as e:
        what = e.name or str(e).splitlines()[0][:80]
        raise ModelError(f"render.backend: acestep needs diffusers with AceStepPipeline ({what} is missing)",
                         f"install it: {INSTALL}") from None


@dataclass
class Request:
    """What one take asks of the model besides its seed."""

    prompt: str
    lyrics: str = ""
    language: str = "en"
    bpm: int | None = None
    key: str | None = None
    meter: str | None = None  # beats a bar, as the model's timesignature: "3", "4", "6"
    # repaint: the parent's clean latents (T, D) and the latent frames to make again
    source: Any = None
    span: tuple[int, int] | None = None


@dataclass
class AceModel:
    """A loaded ACE-Step pipeline with the fields the render engine reads."""

    pipe: Any  # diffusers.AceStepPipeline
    model_id: str
    revision: str
    device: str
    dtype: Any
    sample_rate: int
    frame_rate: float  # latent frames a second
    channels: int = 2
    backend: str = "acestep"
    _null: dict = field(default_factory=dict)

    @property
    def turbo(self) -> bool:
        return bool(self.pipe.is_turbo)

    @property
    def melody(self) -> bool:
        return False

    def frames(self, seconds: float) -> int:
        """Latent frames for `seconds` of audio, rounded up as the pipeline does."""
        return max(1, math.ceil(seconds * self.frame_rate))


def load_acestep(model_id: str, device: str = "auto", dtype: str = "auto") -> AceModel:
    require_diffusers()
    from .musicgen import pick_device, pick_dtype

    device = pick_device(device)
    torch_dtype = pick_dtype(device, dtype)
    if model_id in PRESETS:
        pipe = build_tiny_acestep()
        revision = "random"
        notice(log, "tiny-model", "render: render.model is '%s': random weights, the takes are noise (use a real "
               "checkpoint for music)", model_id)
    else:
        pipe, revision = _load_pretrained(model_id, torch_dtype)
    pipe = pipe.to(device)
    if pipe.transformer.dtype != torch_dtype:  # the preset is built in float32; a checkpoint loads in torch_dtype
        pipe = pipe.to(dtype=torch_dtype)
    pipe.set_progress_bar_config(disable=True)
    # The VAE decodes a long song in overlapping 20 s tiles: decoding 3 minutes at once peaks
    # at about 12 GiB over the weights (measured at the real sizes), far more than the DiT;
    # in tiles it stays near one tile's worth. Deterministic either way: saved latents still
    # decode to the take's audio exactly.
    pipe.vae.enable_tiling()
    return AceModel(pipe=pipe, model_id=model_id, revision=revision, device=device, dtype=torch_dtype,
                    sample_rate=int(pipe.sample_rate), frame_rate=float(pipe.latents_per_second),
                    channels=int(pipe.vae.config.audio_channels))


def _load_pretrained(model_id: str, torch_dtype):
    from diffusers import AceStepPipeline

    from .musicgen import folder_hash

    local = Path(os.path.expanduser(model_id))
    if local.is_dir():
        if not (local / "model_index.json").is_file():
            raise ModelError(f"render.model: {model_id} is not a diffusers ACE-Step folder (no model_index.json)",
                             "point it at a folder saved with AceStepPipeline.save_pretrained()")
        try:
            return AceStepPipeline.from_pretrained(str(local), torch_dtype=torch_dtype), folder_hash(local)
        except (OSError, ValueError) as e:
            raise ModelError(f"render.model: {model_id} is not a loadable ACE-Step pipeline "
                             f"({str(e).splitlines()[0][:120]})", "save one with AceStepPipeline.save_pretrained()"
                             ) from None
    if model_id.startswith((".", "/", "~")):
        raise ModelError(f"render.model: folder {model_id} does not exist", "point it at a saved pipeline folder")
    try:
        pipe = AceStepPipeline.from_pretrained(model_id, torch_dtype=torch_dtype)
    except (OSError, ValueError) as e:
        offline = os.environ.get("HF_HUB_OFFLINE") == "1" or "offline" in str(e).lower()
        what = f"render.model: {model_id} is not in the local cache" if offline else \
            f"render.model: cannot load {model_id}: {str(e).splitlines()[0][:160]}"
        raise ModelError(what, f"on a machine with internet run `hf download {model_id} --local-dir "
                               f"{model_id.split('/')[-1]}`, copy that folder here and set render.model to it"
                         ) from None
    return pipe, _hub_revision(pipe, model_id)


def _hub_revision(pipe, model_id: str) -> str:
    """The snapshot's commit hash, read from the cache folder the pipeline came from."""
    path = str(getattr(pipe.config, "_name_or_path", "") or "")
    parts = Path(path).parts
    if "snapshots" in parts:
        return parts[parts.index("snapshots") + 1]
    return "hub"


def conditions(lm: AceModel, req: Request, seconds: float, task: str = "text2music"):
    """One take's cross-attention states (1, L, H), encoded alone: its prompt, lyrics,
    language, bpm, key, metre and duration as the model's own metadata."""
    import torch

    pipe = lm.pipe
    dev = torch.device(lm.device)
    instruction = pipe._get_task_instruction(task_type=task)
    with torch.no_grad():
        text, text_mask, lyric, lyric_mask = pipe.encode_prompt(
            prompt=req.prompt, lyrics=req.lyrics or "", device=dev, vocal_language=req.language or "en",
            audio_duration=seconds, instruction=instruction, bpm=req.bpm, keyscale=req.key,
            timesignature=req.meter)
        frames = math.ceil(30 * lm.frame_rate)  # no reference audio: the pipeline's 30 s of silence latent
        refer = pipe.condition_encoder.silence_latent[:, :frames, :].to(device=dev, dtype=lm.dtype)
        states, _mask = pipe.condition_encoder(
            text_hidden_states=text, text_attention_mask=text_mask, lyric_hidden_states=lyric,
            lyric_attention_mask=lyric_mask, refer_audio_acoustic_hidden_states_packed=refer,
            refer_audio_order_mask=torch.zeros(1, device=dev, dtype=torch.long))
    return states


def context(lm: AceModel, frames: int, req: Request):
    """The DiT's context (1, T, 2D): source latents and the mask of frames to make (1)
    or keep (0). text2music: the silence latent, all made; repaint: the parent's latents
    outside the span, silence inside."""
    import torch

    pipe = lm.pipe
    dev = torch.device(lm.device)
    silence, _ = pipe.prepare_src_latents(device=dev, dtype=lm.dtype, batch_size=1, latent_length=frames)
    d = silence.shape[-1]
    mask = torch.ones(1, frames, d, device=dev, dtype=lm.dtype)
    if req.span is None:
        return torch.cat([silence, mask], dim=-1)
    a, b = req.span
    mask.zero_()
    mask[:, a:b] = 1.0
    src = req.source.to(device=dev, dtype=lm.dtype)[None, :frames]
    src = torch.where(mask > 0.5, silence, src)
    return torch.cat([src, mask], dim=-1)


def schedule(lm: AceModel, steps: int, shift: float) -> list[float]:
    """The pipeline's sigmas, from 1 (noise) down, with the terminal 0 appended."""
    import torch

    t = lm.pipe._get_timestep_schedule(num_inference_steps=steps, shift=shift, device=torch.device("cpu"),
                                       dtype=torch.float32)
    return [float(s) for s in t] + [0.0]


def initial_noise(lm: AceModel, seeds: list[int], frames: int):
    """Each take's starting noise from its own generator: a take's noise is a function of
    its seed alone, never of its row or its batch."""
    import torch

    d = lm.pipe.transformer.config.audio_acoustic_hidden_dim
    gens = [torch.Generator(device="cpu").manual_seed(int(s)) for s in seeds]
    noise = torch.cat([torch.randn((1, frames, d), generator=g, dtype=torch.float32) for g in gens])
    return noise.to(device=lm.device, dtype=lm.dtype)


def generate(lm: AceModel, requests: list[Request], seeds: list[int], seconds: float, steps: int,
             guidance: float, shift: float, on_step=None, rows: int | None = None):
    """Clean latents (batch, T, D) of takes. Takes are run in groups whose conditions have
    the same shape (a track's takes share theirs); each group is computed in at least two
    rows (see the module's note), or in exactly `rows` when set (a fixed shape for CUDA's
    kernels, as the MusicGen loop does), padded with copies of its last take."""
    import torch

    frames = lm.frames(seconds)
    task = "repaint" if any(r.span for r in requests) else "text2music"
    if task == "repaint" and not all(r.span for r in requests):
        raise ValueError("a batch mixes repaints and new takes")
    conds = [conditions(lm, r, seconds, task) for r in requests]
    groups: dict = {}
    for i, c in enumerate(conds):
        groups.setdefault(tuple(c.shape), []).append(i)
    sigmas = schedule(lm, steps, shift)
    out = [None] * len(requests)
    with torch.no_grad():
        noise = initial_noise(lm, seeds, frames)
        for gi, group in enumerate(groups.values()):
            padded = group + group[-1:] * (max(rows or 0, 2) - len(group))
            states = torch.cat([conds[i] for i in padded])
            ctx = torch.cat([context(lm, frames, requests[i]) for i in padded])
            x = _denoise(lm, noise[padded], states, ctx, sigmas, guidance,
                         [requests[i] for i in padded],
                         lambda k, gi=gi: on_step and on_step(gi * (len(sigmas) - 1) + k,
                                                              len(groups) * (len(sigmas) - 1)))
            for j, i in enumerate(group):
                out[i] = x[j]
    return torch.stack(out)


def _denoise(lm: AceModel, x, states, ctx, sigmas: list[float], guidance: float, requests: list[Request], on_step):
    """The flow-matching Euler loop of AceStepPipeline.__call__ (same DiT call, same APG
    guidance for non-turbo checkpoints). For a repaint, the frames outside the span are
    set back to the parent's latents noised to the next step's level after every step, so
    the kept part stays the parent's and the new part is made to join it."""
    import torch
    from diffusers.guiders.adaptive_projected_guidance import MomentumBuffer, normalized_guidance

    pipe = lm.pipe
    b = x.shape[0]
    cfg = guidance > 1.0 and not lm.turbo
    null = None
    if cfg:
        null = pipe.condition_encoder.null_condition_emb.to(device=states.device, dtype=states.dtype).expand_as(states)
    momentum = MomentumBuffer(momentum=-0.75) if cfg else None
    keep = None
    if requests[0].span is not None:
        keep = ctx[..., ctx.shape[-1] // 2:] < 0.5  # the mask half of the context: 1 = make
        parent = torch.stack([r.source.to(device=x.device, dtype=x.dtype)[:x.shape[1]] for r in requests])
        start = x.clone()
    for k, (s, s_next) in enumerate(zip(sigmas[:-1], sigmas[1:])):
        t = torch.full((b,), s, device=x.device, dtype=x.dtype)
        if cfg:
            v = pipe.transformer(hidden_states=torch.cat([x, x]), timestep=torch.cat([t, t]), timestep_r=torch.cat([t, t]),
                                 encoder_hidden_states=torch.cat([states, null]), context_latents=torch.cat([ctx, ctx]),
                                 return_dict=False)[0]
            v_cond, v_uncond = v.chunk(2)
            v = normalized_guidance(pred_cond=v_cond, pred_uncond=v_uncond, guidance_scale=guidance - 1.0,
                                    momentum_buffer=momentum, eta=0.0, norm_threshold=2.5,
                                    use_original_formulation=True, norm_dim=(1,))
        else:
            v = pipe.transformer(hidden_states=x, timestep=t, timestep_r=t, encoder_hidden_states=states,
                                 context_latents=ctx, return_dict=False)[0]
        x = x + (s_next - s) * v
        if keep is not None:
            x = torch.where(keep, s_next * start + (1.0 - s_next) * parent, x)
        if on_step is not None:
            on_step(k + 1)
    return x


def decode_latents(lm: AceModel, latents):
    """Audio (channels, samples) float32 of one take's clean latents (T, D), decoded alone
    and levelled as the pipeline levels its output (peak at -1 dBFS)."""
    import torch

    with torch.no_grad():
        audio = lm.pipe.vae.decode(latents[None].to(device=lm.device, dtype=lm.pipe.vae.dtype).transpose(1, 2)).sample
    audio = audio.float()[0]
    peak = audio.abs().amax()
    if peak > 1.0:
        audio = audio / peak
    return (audio * (TARGET_PEAK / audio.abs().amax().clamp(min=1e-6))).cpu()


def bytes_per_take(lm: AceModel, seconds: float, guidance: float = 1.0) -> int:
    """Peak activation bytes one take adds to a DiT pass (no gradients kept): the widest
    layer's tensors over the patched sequence, twice under classifier-free guidance. The
    VAE decodes one take at a time, after the batch, so it adds nothing per take."""
    import torch

    c = lm.pipe.transformer.config
    seq = math.ceil(lm.frames(seconds) / c.patch_size)
    width = 4 * c.hidden_size + 3 * c.intermediate_size  # residual, q/k/v/out, and the MLP's gate, up and down
    rows = 2 if guidance > 1.0 and not lm.turbo else 1
    # Measured at the turbo sizes (bf16, 180 s, 2 and 4 rows on one GPU): 1.12x this count per
    # take; 1.25 keeps the batch under it.
    return int(1.25 * rows * seq * width * torch.finfo(lm.dtype).bits // 8)
