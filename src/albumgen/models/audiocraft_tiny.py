"""The `tiny` preset of the audiocraft backend: a random-weight MusicGen built with AudioCraft's
own builders (`audiocraft.models.builders`), from the same kind of config its checkpoints carry.

Like the transformers `tiny`, it exists so tests and offline demos run AudioCraft's real code
path (T5 conditioner, delay pattern, streaming transformer, EnCodec) in seconds on a CPU.

AudioCraft's T5Conditioner only accepts T5 names from its own list and loads them with
`from_pretrained(name)`. So the tiny T5 (random weights, a tokenizer built in code) is saved
as a folder named `t5-small`, and the LM is built with that folder's parent as the working
directory: transformers reads a local folder before it looks at the hub. A checkpoint folder
saved by `save_checkpoint` carries its T5 the same way, so it loads with no download.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

TINY_ID = "tiny"
PRESETS = (TINY_ID, "tiny-melody")
T5_NAME = "t5-small"  # in T5Conditioner.MODELS; its width (512) is what the conditioner expects
SAMPLE_RATE = 32000
CODEBOOKS, CARD = 4, 64  # as the transformers tiny: 4 codebooks, 64 entries, 50 frames/s


def tiny_config(melody: bool = False):
    """The hydra-style config AudioCraft's builders read (a subset of a real MusicGen's)."""
    from omegaconf import OmegaConf

    conditioners = {"description": {"model": "t5", "t5": {"name": T5_NAME, "finetune": False, "word_dropout": 0.0,
                                                         "normalize_text": False}}}
    prepend = []
    if melody:
        conditioners["self_wav"] = {"model": "chroma_stem", "chroma_stem": {
            "sample_rate": SAMPLE_RATE, "n_chroma": 12, "radix2_exp": 12, "argmax": False,
            "match_len_on_eval": False, "eval_wavs": None, "n_eval_wavs": 0, "cache_path": None}}
        prepend = ["self_wav"]
    return OmegaConf.create({
        "device": "cpu", "dtype": "float32", "sample_rate": SAMPLE_RATE, "channels": 1,
        "dataset": {"segment_duration": 30.0},
        "lm_model": "transformer_lm",
        "transformer_lm": {"n_q": CODEBOOKS, "card": CARD, "dim": 32, "num_heads": 4, "num_layers": 2,
                           "hidden_scale": 2, "norm_first": True, "bias_proj": False, "bias_ff": False,
                           "bias_attn": False, "causal": True, "custom": False, "memory_efficient": False,
                           "positional_embedding": "sin", "activation": "gelu", "weight_init": "gaussian",
                           "depthwise_init": "current", "zero_bias_init": True},
        "codebooks_pattern": {"modeling": "delay", "delay": {"delays": list(range(CODEBOOKS)),
                                                             "flatten_first": 0, "empty_initial": 0}},
        "classifier_free_guidance": {"training_dropout": 0.0, "inference_coef": 3.0},
        "attribute_dropout": {},
        "fuser": {"cross_attention_pos_emb": False, "cross_attention_pos_emb_scale": 1, "sum": [],
                  "prepend": prepend, "cross": ["description"], "input_interpolate": []},
        "conditioners": conditioners,
        "compression_model": "encodec",
        "encodec": {"autoencoder": "seanet", "quantizer": "rvq", "sample_rate": SAMPLE_RATE, "channels": 1,
                    "causal": False, "renormalize": False},
        # hop 8*5*4*4 = 640: 50 frames/s at 32 kHz, the real MusicGen EnCodec's rates
        "seanet": {"dimension": 16, "channels": 1, "causal": False, "n_filters": 4, "n_residual_layers": 1,
                   "ratios": [8, 5, 4, 4], "activation": "ELU", "activation_params": {"alpha": 1.0},
                   "norm": "weight_norm", "norm_params": {}, "kernel_size": 7, "last_kernel_size": 7,
                   "residual_kernel_size": 3, "dilation_base": 2, "pad_mode": "constant", "true_skip": True,
                   "compress": 2, "lstm": 0, "disable_norm_outer_blocks": 0, "encoder": {}, "decoder": {}},
        "rvq": {"n_q": CODEBOOKS, "q_dropout": False, "bins": CARD, "decay": 0.99, "kmeans_init": False,
                "kmeans_iters": 1, "threshold_ema_dead_code": 0},
    })


def save_text_encoder(folder: Path, seed: int = 0) -> None:
    """A random 512-wide T5 encoder and a byte-level Unigram tokenizer built in code."""
    import torch
    from transformers import T5Config, T5EncoderModel, T5Tokenizer

    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        config = T5Config(vocab_size=259, d_model=512, d_kv=8, d_ff=64, num_layers=1, num_heads=2,
                          decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
        T5EncoderModel(config).eval().save_pretrained(folder)
    finally:
        torch.random.set_rng_state(state)
    # ids 0 pad, 1 eos, 2 unk, then the printable characters: every prompt tokenizes, nothing to download
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [(chr(c), -1.0) for c in range(32, 288)]
    T5Tokenizer(vocab=pieces, extra_ids=0).save_pretrained(folder)


@contextlib.contextmanager
def text_encoders_in(folder: Path):
    """Run with `folder` as the working directory: T5Conditioner's from_pretrained(name) then
    finds a `<name>` subfolder there (a checkpoint's own T5) before the hub cache."""
    old = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(old)


# Where torch.hub caches demucs' htdemucs (its files.txt: signature 955717e8). demucs 4.1
# asks the HF hub first and falls back to this file: offline, the tiny melody model finds
# a random-weight HTDemucs here (ChromaStemConditioner loads htdemucs by name).
HTDEMUCS_FILE = "955717e8-8726e21a.th"


def save_tiny_htdemucs(torch_home: Path, seed: int = 0) -> None:
    """A small random HTDemucs (drums, bass, other, vocals) as a demucs model package."""
    import torch
    from demucs.htdemucs import HTDemucs
    from demucs.states import serialize_model
    from omegaconf import OmegaConf

    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = HTDemucs(sources=["drums", "bass", "other", "vocals"], audio_channels=2, samplerate=44100,
                         segment=4, channels=4, depth=2, nfft=512, t_layers=1, t_hidden_scale=1.0, t_heads=1,
                         dconv_depth=1, dconv_comp=2)
    finally:
        torch.random.set_rng_state(state)
    folder = torch_home / "hub" / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(serialize_model(model, OmegaConf.create({}), half=False), folder / HTDEMUCS_FILE)


@contextlib.contextmanager
def torch_home(folder: Path):
    old = os.environ.get("TORCH_HOME")
    os.environ["TORCH_HOME"] = str(folder)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("TORCH_HOME", None)
        else:
            os.environ["TORCH_HOME"] = old


def build_tiny(melody: bool = False, seed: int = 0, device: str = "cpu"):
    """An audiocraft MusicGen with tiny random weights, the same every call."""
    import torch
    from audiocraft.models import MusicGen, builders

    cfg = tiny_config(melody)
    cfg.device = device
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
            save_text_encoder(Path(tmp) / T5_NAME, seed)
            if melody:
                save_tiny_htdemucs(Path(tmp) / "torch", seed)
                stack.enter_context(torch_home(Path(tmp) / "torch"))
            with text_encoders_in(Path(tmp)):
                lm = builders.get_lm_model(cfg)
        compression = builders.get_compression_model(cfg)
    finally:
        torch.random.set_rng_state(state)
    lm.cfg = cfg  # as AudioCraft's loaders leave it: MusicGen reads max_duration from it
    return MusicGen(TINY_ID if not melody else "tiny-melody", compression.eval(), lm.eval())


def save_checkpoint(model, folder: Path) -> None:
    """An AudioCraft checkpoint folder as `MusicGen.get_pretrained(folder)` reads it:
    state_dict.bin (LM) and compression_state_dict.bin, each {'xp.cfg', 'best_state'}, plus
    the T5 its conditioner names, so the folder loads offline (the tiny T5 is on no hub)."""
    import torch
    from omegaconf import OmegaConf

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = OmegaConf.to_yaml(model.lm.cfg)
    torch.save({"xp.cfg": cfg, "best_state": model.lm.state_dict()}, folder / "state_dict.bin")
    torch.save({"xp.cfg": cfg, "best_state": model.compression_model.state_dict()},
               folder / "compression_state_dict.bin")
    for cond in model.lm.condition_provider.conditioners.values():
        if hasattr(cond, "t5"):
            cond.t5.save_pretrained(folder / cond.name)
            cond.t5_tokenizer.save_pretrained(folder / cond.name)
