"""The `tiny` preset: a randomly initialised MusicGen with the real transformers classes.

It exists so tests and the offline demo exercise the exact code path of the real
checkpoints (text encoder, decoder with codebook delay pattern, EnCodec decode) in
seconds on a CPU. Its weights are random: it makes noise, and the render stage says so.
`tiny-melody` and `tiny-stereo-melody` are the same with transformers' MusicgenMelody
classes (chroma + text as a prefix of the decoder, no cross-attention).
"""
from __future__ import annotations

TINY_ID = "tiny"
PRESETS = (TINY_ID, "tiny-stereo", "tiny-melody", "tiny-stereo-melody")  # render.model names built in code


def byte_tokenizer():
    """A real fast tokenizer (saveable, loadable by AutoTokenizer) over raw UTF-8 bytes,
    so the tiny preset needs no download. ids: 0 pad, 1 eos, 2 unk, 3..258 bytes."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    byte_chars = sorted(alphabet, key=lambda c: ord(c))
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, **{c: i + 3 for i, c in enumerate(byte_chars)}}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
                                   model_max_length=256)


def build_preset(name: str):
    """The model a preset name stands for."""
    return build_tiny(stereo="stereo" in name, melody="melody" in name)


def build_tiny(stereo: bool = False, seed: int = 0, melody: bool = False):
    """A MusicgenForConditionalGeneration (MusicgenMelodyForConditionalGeneration with
    `melody`) with tiny random weights, the same every call."""
    import torch
    from transformers import (
        EncodecConfig,
        GenerationConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        MusicgenMelodyConfig,
        MusicgenMelodyDecoderConfig,
        MusicgenMelodyForConditionalGeneration,
        T5Config,
    )

    channels = 2 if stereo else 1
    codebooks = 4 * channels  # stereo checkpoints interleave 4 codebooks per channel
    t5 = T5Config(vocab_size=259, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                  decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    # Real MusicGen's EnCodec: 32 kHz, hop 640 (50 frames/s), 2048-entry codebooks. Same
    # rates here so durations, frame counts and the 30 s window maths are the real ones.
    enc = EncodecConfig(sampling_rate=32000, audio_channels=1, num_filters=4, hidden_size=16, codebook_size=64,
                        codebook_dim=16, upsampling_ratios=[8, 5, 4, 4], target_bandwidths=[2.2],
                        num_lstm_layers=1, normalize=False, use_causal_conv=False, compress=2,
                        num_residual_layers=1)
    decoder_config, config_cls, model_cls = (MusicgenMelodyDecoderConfig, MusicgenMelodyConfig,
                                             MusicgenMelodyForConditionalGeneration) if melody else \
        (MusicgenDecoderConfig, MusicgenConfig, MusicgenForConditionalGeneration)
    dec = decoder_config(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         ffn_dim=64, num_codebooks=codebooks, max_position_embeddings=4096,
                         pad_token_id=64, bos_token_id=64, audio_channels=channels)
    # melody: 12 pitch classes and 235 chroma frames (30 s at 4096 samples), as the real ones
    config = config_cls(text_encoder=t5, audio_encoder=enc, decoder=dec, **({"num_chroma": 12} if melody else {}))
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = model_cls(config).eval()
        # EnCodec's codebooks are buffers that start at zero: left so, every token decodes to
        # the same vector and every take to the same audio. Random codebook entries make each
        # take's audio follow its tokens, so pick has different takes to tell apart.
        with torch.no_grad():
            for name, buf in model.audio_encoder.quantizer.named_buffers():
                if name.endswith(("codebook.embed", "codebook.embed_avg")):
                    buf.normal_(0.0, 50.0)  # the random decoder damps them; 50 keeps takes audibly apart
            if melody:
                # Initialised at std 0.02, the chroma's projection is a whisper next to the
                # text states (unit scale after T5's norm): a melody would barely move the
                # logits, and no test could tell a melody that reaches the model from one that
                # is dropped (transformers #45647). At unit scale it speaks as loud as the text.
                model.audio_enc_to_dec_proj.weight.normal_(0.0, 1.0)
    finally:
        torch.random.set_rng_state(state)
    model.generation_config = GenerationConfig(
        decoder_start_token_id=64, pad_token_id=64, bos_token_id=64, do_sample=True, guidance_scale=3.0,
        top_k=250, max_length=1500)
    model.config.albumgen_preset = TINY_ID
    return model
