"""The `tiny-acestep` preset: an ACE-Step 1.5 pipeline with tiny random weights, built in code.

The same diffusers and transformers classes as a real checkpoint (Oobleck VAE, Qwen3 text
encoder, ACE-Step DiT and condition encoder, flow-matching scheduler), small enough that a
few seconds of audio render in about a second on a CPU, with no download. The VAE keeps the
real rates (48 kHz stereo, 1920 samples per latent frame: 25 frames a second), so
durations, latent lengths and repaint spans are the real ones. Its weights are random: it
makes noise, and the render stage says so.
"""
from __future__ import annotations

TINY_ACESTEP = "tiny-acestep"
PRESETS = (TINY_ACESTEP,)

ACOUSTIC_DIM = 8  # latent channels (the real model: 64)
SAMPLE_RATE = 48000
DOWNSAMPLING = [2, 4, 4, 6, 10]  # the real Oobleck's: 1920 samples per latent frame


def build_tiny_acestep(seed: int = 0):
    """An AceStepPipeline with tiny random weights, the same every call (the caller's RNG
    is left as it was)."""
    import torch
    from diffusers import AutoencoderOobleck, FlowMatchEulerDiscreteScheduler
    from diffusers.models.transformers.ace_step_transformer import AceStepTransformer1DModel
    from diffusers.pipelines.ace_step import AceStepConditionEncoder, AceStepPipeline
    from transformers import Qwen3Config, Qwen3Model

    from .tiny import byte_tokenizer

    tokenizer = byte_tokenizer()
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        transformer = AceStepTransformer1DModel(
            hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            head_dim=8, in_channels=3 * ACOUSTIC_DIM, audio_acoustic_hidden_dim=ACOUSTIC_DIM, patch_size=2,
            rope_theta=10000.0, sliding_window=16, is_turbo=True)
        text_encoder = Qwen3Model(Qwen3Config(
            hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            head_dim=8, vocab_size=len(tokenizer), max_position_embeddings=4096))
        condition_encoder = AceStepConditionEncoder(
            hidden_size=32, intermediate_size=64, text_hidden_dim=32, timbre_hidden_dim=ACOUSTIC_DIM,
            num_lyric_encoder_hidden_layers=1, num_timbre_encoder_hidden_layers=1, num_attention_heads=4,
            num_key_value_heads=2, head_dim=8, rope_theta=10000.0, sliding_window=16)
        # The encoder's output holds mean and scale: twice the latent channels.
        vae = AutoencoderOobleck(encoder_hidden_size=2 * ACOUSTIC_DIM, downsampling_ratios=DOWNSAMPLING,
                                 channel_multiples=[1, 1, 1, 1, 1], decoder_channels=4,
                                 decoder_input_channels=ACOUSTIC_DIM, audio_channels=2, sampling_rate=SAMPLE_RATE)
        # At init the cross-attention speaks a whisper next to the noise path: prompts, lyrics,
        # bpm and key would barely move a take, and no test could tell conditions that reach
        # the model from conditions that are dropped. At unit scale they are heard.
        with torch.no_grad():
            for layer in transformer.layers:
                layer.cross_attn.to_out[0].weight.normal_(0.0, 1.0)
            # Likewise the random decoder's biases drown its input: every take would decode to
            # nearly the same audio. Ten times the first convolution makes audio follow latents.
            vae.decoder.conv1.weight_g.mul_(10.0)
    finally:
        torch.random.set_rng_state(state)
    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1, shift=1.0)
    pipe = AceStepPipeline(vae=vae, text_encoder=text_encoder.eval(), tokenizer=tokenizer,
                           transformer=transformer.eval(), condition_encoder=condition_encoder.eval(),
                           scheduler=scheduler)
    pipe.set_progress_bar_config(disable=True)
    return pipe
