"""Render throughput: transformers' `generate` and albumgen's loop side by side, same batch.

    .venv/bin/python bench/render_throughput.py --model tiny              # CPU, seconds
    python bench/render_throughput.py --model medium --batch 32 --steps 500   # on a GPU

Models are built in code with the real checkpoints' architectures and random weights, so
nothing is downloaded; speed depends on shapes, not on weight values. EnCodec decoding is
left out of both timings (it is the same call in both, once per take). Prints ms/step,
audio seconds per second, the ratio, and the share of the bandwidth floor: the time the
bytes one step must read (decoder weights + KV caches) take at the memory's bandwidth.
This is a benchmark, not a test: nothing here asserts a speed.
"""
from __future__ import annotations

import argparse
import time

import torch

from albumgen.models.decode import Sampling
from albumgen.models.fast import FastLoop, delays
from albumgen.models.musicgen import LoadedModel, pick_device, pick_dtype
from albumgen.models.tiny import build_tiny, byte_tokenizer

# facebook/musicgen-* decoder shapes (hidden, layers, heads, ffn); all use t5-base as text
# encoder and the same 32 kHz EnCodec.
ARCH = {"small": (1024, 24, 16, 4096), "medium": (1536, 48, 24, 6144), "large": (2048, 48, 32, 8192)}
# Peak memory bandwidth, GB/s, by device name; anything else is measured with a copy.
BANDWIDTH = {"H200": 4800, "H100 80GB HBM3": 3350, "H100 PCIe": 2000, "H100": 3350, "A100-SXM4-80GB": 2039,
             "A100 80GB PCIe": 1935, "A100": 1555, "L40S": 864, "L4": 300, "RTX 4090": 1008, "A10G": 600}
PROMPTS = ["80s pop track with bassy drums and synth", "lofi slow bpm electro chill with organic samples",
           "epic orchestral score with brass and timpani", "acoustic folk with fingerpicked guitar"]


def build_arch(name: str, device: str, dtype) -> torch.nn.Module:
    from transformers import (EncodecConfig, GenerationConfig, MusicgenConfig, MusicgenDecoderConfig,
                              MusicgenForConditionalGeneration, T5Config)

    stereo = name.startswith("stereo-")
    hidden, layers, heads, ffn = ARCH[name.removeprefix("stereo-")]
    t5 = T5Config(vocab_size=32128, d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12)
    enc = EncodecConfig(sampling_rate=32000, audio_channels=1, num_filters=64, hidden_size=128, codebook_size=2048,
                        codebook_dim=128, upsampling_ratios=[8, 5, 4, 4], target_bandwidths=[2.2],
                        num_lstm_layers=2, normalize=False, use_causal_conv=False, compress=2,
                        num_residual_layers=1)
    dec = MusicgenDecoderConfig(vocab_size=2048, hidden_size=hidden, num_hidden_layers=layers,
                                num_attention_heads=heads, ffn_dim=ffn, num_codebooks=8 if stereo else 4,
                                max_position_embeddings=2048, pad_token_id=2048, bos_token_id=2048,
                                audio_channels=2 if stereo else 1)
    with torch.device(device):  # initialise on the device: a CPU init of `large` takes minutes
        model = MusicgenForConditionalGeneration(MusicgenConfig(text_encoder=t5, audio_encoder=enc, decoder=dec))
    model.generation_config = GenerationConfig(decoder_start_token_id=2048, pad_token_id=2048, bos_token_id=2048,
                                               do_sample=True, guidance_scale=3.0, top_k=250, max_length=1500)
    return model.to(dtype=dtype).eval()


def load(name: str, device: str, dtype) -> LoadedModel:
    model = build_tiny(stereo=name == "tiny-stereo").to(device, dtype).eval() if name.startswith("tiny") \
        else build_arch(name, device, dtype)
    dc = model.config.decoder
    return LoadedModel(model=model, tokenizer=byte_tokenizer(), model_id=name, revision="random", device=device,
                       dtype=dtype, sample_rate=32000, frame_rate=50, channels=dc.audio_channels,
                       num_codebooks=dc.num_codebooks)


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def bandwidth_gbs(device: str) -> tuple[float, str]:
    if device == "cuda":
        name = torch.cuda.get_device_name()
        for key, gbs in BANDWIDTH.items():
            if key in name:
                return gbs, f"{name}, spec"
    x = torch.empty(32 << 20, dtype=torch.float32, device=device)  # 128 MiB: past any cache
    y = torch.empty_like(x)
    y.copy_(x)
    sync(device)
    t = time.perf_counter()
    for _ in range(5):
        y.copy_(x)
    sync(device)
    return 5 * 2 * x.numel() * 4 / (time.perf_counter() - t) / 1e9, "measured by copy"


def floor_ms(lm: LoadedModel, batch: int, steps: int, text: int, gbs: float) -> float:
    """Bytes one average step must read, at peak bandwidth."""
    dec = lm.model.decoder
    size = torch.finfo(lm.dtype).bits // 8
    weights = sum(p.numel() for n, p in dec.named_parameters() if "embed_tokens" not in n) * size
    cfg = dec.config
    rows = 2 * batch  # CFG
    kv = rows * cfg.num_hidden_layers * 2 * cfg.hidden_size * size * (steps / 2 + text)
    return (weights + kv) / (gbs * 1e9) * 1e3


def time_transformers(lm, prompts, steps, greedy: bool) -> tuple[float, torch.Tensor]:
    ids, mask = lm.tokenize(prompts)
    ae = lm.model.audio_encoder
    caught = []
    original = ae.decode

    def keep_tokens(codes, *args, **kwargs):  # skip EnCodec: not what is being compared
        caught.append(codes[0])
        return _Dummy(codes)

    ae.decode = keep_tokens
    try:
        sync(lm.device)
        t = time.perf_counter()
        lm.model.generate(input_ids=ids, attention_mask=mask, do_sample=not greedy, guidance_scale=3.0, top_k=250,
                          max_new_tokens=steps)
        sync(lm.device)
        took = time.perf_counter() - t
    finally:
        ae.decode = original
    if len(caught) == 1:
        return took, caught[0]
    codes = torch.stack(caught, dim=2)  # stereo: left (even) and right (odd) codebooks came apart
    return took, codes.flatten(1, 2)


class _Dummy:
    def __init__(self, codes):
        self.audio_values = torch.zeros(codes.shape[1], 1, 1, device=codes.device)


def time_albumgen(loop, prompts, steps, greedy: bool) -> tuple[float, torch.Tensor]:
    frames = steps - max(delays(loop.lm.num_codebooks, loop.lm.channels))
    s = Sampling(greedy=greedy)
    sync(loop.lm.device)
    t = time.perf_counter()
    codes = loop.generate(prompts, list(range(len(prompts))), frames, s)
    sync(loop.lm.device)
    return time.perf_counter() - t, codes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="tiny", help="tiny, tiny-stereo, small, medium, large, stereo-small, ...")
    ap.add_argument("--batch", type=int, action="append", help="takes per batch (repeatable); default 1 and 4")
    ap.add_argument("--steps", type=int, default=None, help="decoding steps (default 500 on GPU, 100 on CPU)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="auto", help="auto: bf16/fp16 on GPU, fp32 on CPU")
    ap.add_argument("--check", type=int, default=100, help="greedy steps compared token for token (0: skip)")
    args = ap.parse_args()
    import transformers

    transformers.logging.set_verbosity_error()
    device = pick_device(args.device)
    dtype = pick_dtype(device, args.dtype)
    steps = args.steps or (500 if device == "cuda" else 100)
    if device == "cpu":
        torch.set_num_threads(1)  # shared CI cores: more threads only spin against each other
    lm = load(args.model, device, dtype)
    loop = FastLoop(lm)
    gbs, how = bandwidth_gbs(device)
    print(f"{args.model} on {device} ({how}: {gbs:.0f} GB/s), {str(dtype).replace('torch.', '')}, {steps} steps, "
          f"CFG 3, top-k 250, EnCodec decode excluded")
    if args.check:
        n = min(args.check, steps)
        _, want = time_transformers(lm, PROMPTS[:2], n, greedy=True)
        _, got = time_albumgen(loop, PROMPTS[:2], n, greedy=True)
        same = (want.to(got.device) == got).all(dim=(0, 1))
        first = int((~same).nonzero()[0]) if not same.all() else None
        print(f"greedy tokens, first {got.shape[-1]} frames: " +
              ("identical to transformers" if first is None else f"first difference at frame {first}"))
    print(f"{'batch':>5} {'loop':>12} {'ms/step':>9} {'audio s/s':>10} {'ratio':>6} {'floor ms':>9} {'of floor':>8}")
    for batch in args.batch or [1, 4]:
        prompts = [PROMPTS[i % len(PROMPTS)] for i in range(batch)]
        time_albumgen(loop, prompts, steps, greedy=False)  # warm-up: allocations, graph capture
        time_transformers(lm, prompts, min(steps, 20), greedy=False)
        t_hf, _ = time_transformers(lm, prompts, steps, greedy=False)
        t_ag, _ = time_albumgen(loop, prompts, steps, greedy=False)
        fl = floor_ms(lm, batch, steps, 32, gbs)
        audio = batch * (steps - max(delays(lm.num_codebooks, lm.channels))) / lm.frame_rate
        for name, t in (("transformers", t_hf), ("albumgen", t_ag)):
            ms = t / steps * 1e3
            ratio = f"{t_hf / t:.1f}x" if name == "albumgen" else ""
            print(f"{batch:>5} {name:>12} {ms:>9.2f} {audio / t:>10.2f} {ratio:>6} {fl:>9.3f} {fl / ms:>8.1%}")


if __name__ == "__main__":
    main()
