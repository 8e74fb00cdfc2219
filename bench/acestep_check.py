"""One ACE-Step 1.5 song timed, random weights at the turbo checkpoint's sizes, through
albumgen's ACE-Step backend (bench/gpu_check.py's last item, where diffusers is importable).

The sizes are the DiT's and condition encoder's defaults in diffusers (those of the 1.5
turbo checkpoint: hidden 2048, 24 layers, 16 heads), a Qwen3-0.6B-sized text encoder and
the Oobleck VAE at 48 kHz with 1920 samples per latent frame. The tokenizer is the tiny
preset's byte tokenizer (nothing is downloaded); time depends on the sequence lengths, and
a byte per token makes the lyrics' sequence longer than a real tokenizer would, not shorter.
"""
from __future__ import annotations

import time

import torch

LYRICS = "[verse]\nneon lights over the river\nwe keep on walking till the morning\n[chorus]\nhold on, hold on\n" * 3


def build(device: str, dtype, tiny: bool):
    from diffusers import AutoencoderOobleck, FlowMatchEulerDiscreteScheduler
    from diffusers.models.transformers.ace_step_transformer import AceStepTransformer1DModel
    from diffusers.pipelines.ace_step import AceStepConditionEncoder, AceStepPipeline
    from diffusers.utils import logging as diffusers_logging
    from transformers import Qwen3Config, Qwen3Model

    from albumgen.models.tiny import byte_tokenizer

    diffusers_logging.set_verbosity_error()  # dtype-cast advice about random weights: noise here
    tokenizer = byte_tokenizer()
    tokenizer.model_max_length = 4096
    torch.manual_seed(0)
    with torch.device(device):
        if tiny:
            latent = 8
            transformer = AceStepTransformer1DModel(
                hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                head_dim=8, in_channels=3 * latent, audio_acoustic_hidden_dim=latent, patch_size=2,
                sliding_window=16, is_turbo=True)
            text = Qwen3Model(Qwen3Config(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                          num_attention_heads=4, num_key_value_heads=2, head_dim=8,
                                          vocab_size=len(tokenizer), max_position_embeddings=4096))
            condition = AceStepConditionEncoder(
                hidden_size=32, intermediate_size=64, text_hidden_dim=32, timbre_hidden_dim=latent,
                num_lyric_encoder_hidden_layers=1, num_timbre_encoder_hidden_layers=1, num_attention_heads=4,
                num_key_value_heads=2, head_dim=8, sliding_window=16)
            vae = AutoencoderOobleck(encoder_hidden_size=2 * latent, downsampling_ratios=[2, 4, 4, 6, 10],
                                     channel_multiples=[1, 1, 1, 1, 1], decoder_channels=4,
                                     decoder_input_channels=latent, audio_channels=2, sampling_rate=48000)
        else:
            transformer = AceStepTransformer1DModel(is_turbo=True)  # the defaults are the turbo DiT's sizes
            text = Qwen3Model(Qwen3Config(hidden_size=1024, intermediate_size=3072, num_hidden_layers=28,
                                          num_attention_heads=16, num_key_value_heads=8, head_dim=128,
                                          vocab_size=len(tokenizer), max_position_embeddings=32768))
            condition = AceStepConditionEncoder(text_hidden_dim=1024)
            vae = AutoencoderOobleck(encoder_hidden_size=128, downsampling_ratios=[2, 4, 4, 6, 10],
                                     channel_multiples=[1, 2, 4, 8, 16], decoder_channels=128,
                                     decoder_input_channels=64, audio_channels=2, sampling_rate=48000)
    pipe = AceStepPipeline(vae=vae, text_encoder=text.eval(), tokenizer=tokenizer, transformer=transformer.eval(),
                           condition_encoder=condition.eval(),
                           scheduler=FlowMatchEulerDiscreteScheduler(num_train_timesteps=1, shift=1.0))
    pipe = pipe.to(device=device, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    pipe.vae.enable_tiling()  # as albumgen's backend loads it (albumgen.models.acestep.load_acestep)
    return pipe


def time_song(device: str, seconds: float, steps: int) -> dict:
    """Seconds for one song of `seconds` in `steps` turbo steps (a short warm-up song first),
    through albumgen's ACE-Step backend where this albumgen has one (its per-take conditions,
    noise and VAE decode), else through the pipeline's own __call__."""
    cuda = device == "cuda"
    dtype = torch.bfloat16 if cuda else torch.float32
    t = time.perf_counter()
    pipe = build(device, dtype, tiny=not cuda)
    built = time.perf_counter() - t
    params = sum(p.numel() for p in pipe.transformer.parameters())
    prompt = "dark synthwave with gated drums and a soaring lead"
    try:
        from albumgen.models import acestep
    except ImportError:
        acestep = None
    if acestep is not None:
        lm = acestep.AceModel(pipe=pipe, model_id="acestep-random", revision="random", device=device, dtype=dtype,
                              sample_rate=int(pipe.sample_rate), frame_rate=float(pipe.latents_per_second),
                              channels=int(pipe.vae.config.audio_channels))

        def song(duration: float, n: int):
            latents = acestep.generate(lm, [acestep.Request(prompt=prompt, lyrics=LYRICS)], [1], duration, n,
                                       guidance=1.0, shift=3.0)
            return acestep.decode_latents(lm, latents[0])

        how = "albumgen's acestep backend (generate + decode_latents)"
    else:
        def song(duration: float, n: int):
            return pipe(prompt=prompt, lyrics=LYRICS, audio_duration=duration, num_inference_steps=n,
                        guidance_scale=1.0, generator=torch.Generator(device).manual_seed(1)).audios

        how = "diffusers AceStepPipeline.__call__"
    with torch.no_grad():
        song(min(seconds, 10.0), 2)  # warm-up: kernels chosen, workspaces allocated
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t = time.perf_counter()
        audio = song(seconds, steps)
        if cuda:
            torch.cuda.synchronize()
        took = time.perf_counter() - t
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else ""
    return {"item": f"song {seconds:.0f} s, {steps} steps", "model": "acestep-1.5-turbo" if cuda else "acestep-tiny",
            "dtype": str(dtype).replace("torch.", ""), "batch": 1, "steps": steps, "peak_gib": peak,
            "value": f"{took:.2f} s per song ({seconds / took:.0f}x realtime)",
            "note": f"{how}, random weights, DiT {params / 1e9:.2f} B params, built in {built:.0f} s; "
                    f"audio {tuple(audio.shape)}"}
