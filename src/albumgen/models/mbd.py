"""MultiBandDiffusion (AudioCraft): audio from a take's saved EnCodec tokens, cleaner than
EnCodec's own decoder. Both backends save tokens of the same 32 kHz EnCodec, so either's
takes decode here.

MBD starts each band from Gaussian noise drawn from the global RNG, so each take is decoded
alone with the RNG seeded by the take's seed (and put back after): the same take always
decodes to the same audio.
"""
from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from typing import Any

from ..errors import ModelError
from .audiocraft_backend import INSTALL, require_audiocraft

log = logging.getLogger("albumgen")

HUB_ID = "facebook/multiband-diffusion"  # AudioCraft's MBD for MusicGen (mbd_musicgen_32khz.th)


@dataclass
class LoadedMBD:
    mbd: Any  # audiocraft.models.MultiBandDiffusion
    model_id: str
    device: str


def require_mbd() -> None:
    """A one-line error naming the install when MBD cannot be imported: asked by the checks,
    before any take is rendered (the decode itself runs only after the takes)."""
    if importlib.util.find_spec("audiocraft") is None:
        raise ModelError("render.decoder: mbd needs the audiocraft extra", f"install it: {INSTALL}")
    require_audiocraft()  # installed: imported now, so a broken dependency says so with its own fix


def load_mbd(tiny: bool, device: str) -> LoadedMBD:
    """AudioCraft's pretrained MBD for MusicGen, or a random-weight one (tiny presets)."""
    require_mbd()
    if tiny:
        return LoadedMBD(build_tiny_mbd(device=device), "tiny", device)
    from audiocraft.models import MultiBandDiffusion

    try:
        mbd = MultiBandDiffusion.get_mbd_musicgen(device=device)
    except (OSError, ValueError) as e:
        raise ModelError(f"render.decoder: cannot load MultiBandDiffusion ({str(e).splitlines()[0][:120]})",
                         f"on a machine with internet run `hf download {HUB_ID} mbd_musicgen_32khz.th` and "
                         "`hf download facebook/musicgen-small`, then copy ~/.cache/huggingface here") from None
    return LoadedMBD(mbd, HUB_ID, device)


def build_tiny_mbd(seed: int = 0, device: str = "cpu", bands: int = 2):
    """A random-weight MBD built with AudioCraft's builders over the audiocraft tiny EnCodec
    (4 codebooks of 64, 50 frames/s: the same token shapes as both tiny presets)."""
    import torch
    from audiocraft.models import builders
    from audiocraft.models.multibanddiffusion import DiffusionProcess, MultiBandDiffusion
    from audiocraft.modules.diffusion_schedule import NoiseSchedule
    from omegaconf import OmegaConf

    from .audiocraft_tiny import tiny_config

    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        codec = builders.get_compression_model(tiny_config()).to(device).eval()
        processes = []
        for _ in range(bands):
            cfg = OmegaConf.create({
                "channels": 1,
                "schedule": {"num_steps": 1000, "beta_t0": 1e-5, "beta_t1": 2.5e-2, "beta_exp": 7.5,
                             "repartition": "power", "variance": "beta", "clip": 5.0, "rescale": 1.0},
                "diffusion_unet": {"hidden": 8, "depth": 2, "growth": 2.0, "max_channels": 64,
                                   "emb_all_layers": False, "cross_attention": False, "bilstm": False,
                                   "transformer": False, "codec_dim": codec.decoder.dimension},
                "processor": {"use": False, "name": "multi_band_processor"},
            })
            unet = builders.get_diffusion_model(cfg).to(device).eval()
            processor = builders.get_processor(cfg.processor, sample_rate=codec.sample_rate)
            schedule = NoiseSchedule(**cfg.schedule, sample_processor=processor, device=device)
            processes.append(DiffusionProcess(model=unet, noise_schedule=schedule))
    finally:
        torch.random.set_rng_state(state)
    return MultiBandDiffusion(DPs=processes, codec_model=codec)


def decode_mbd(loaded: LoadedMBD, codes, seed: int, channels: int = 1):
    """Audio (channels, samples) float32 from one take's tokens (codebooks, frames)."""
    import torch

    codes = codes.to(loaded.device)[None]
    # stereo tokens interleave the channels' codebooks: even ones left, odd ones right
    parts = [codes[:, c::channels] for c in range(channels)]
    with torch.no_grad(), torch.random.fork_rng(devices=[] if loaded.device == "cpu" else None):
        torch.manual_seed(seed)
        audio = torch.cat([loaded.mbd.tokens_to_wav(p) for p in parts], dim=1)
    return audio[0].float().cpu()
