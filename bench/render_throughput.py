"""Render throughput: transformers' `generate` and albumgen's loop side by side, same batch.

    .venv/bin/python bench/render_throughput.py --model tiny                  # CPU, seconds
    python bench/render_throughput.py --model medium --batch 32 --steps 1504  # on a GPU

Models are built in code with the real checkpoints' architectures and random weights, so
nothing is downloaded; speed depends on shapes, not on weight values. EnCodec decoding is
left out of every timing (it is the same call in all, once per take). Two references:
transformers' default `generate`, and its best setting, `cache_implementation="static"`
(which transformers also compiles when it marks the model compilable), run only when this
transformers version really decodes MusicGen with a static cache and gets the default's
greedy tokens: a reference that computes something else is no reference. Prints ms/step,
audio seconds per second, albumgen's ratio to the fastest valid reference, and the share of
the bandwidth floor: the time the bytes one step must read (the decoder weights a step uses,
the self-attention cache up to the step, the cross-attention cache) take at the memory's
bandwidth. 1504 steps is one 30 s window (1500 frames + the codebook delay). This is a
benchmark, not a test: nothing here asserts a speed.
"""
from __future__ import annotations

import argparse
import time

import torch

from albumgen.models.fast import FastLoop, delays
from albumgen.models.loaded import LoadedModel
from albumgen.models.musicgen import pick_device, pick_dtype
from albumgen.models.sampling import Sampling
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
    from transformers import (
        EncodecConfig,
        GenerationConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        T5Config,
    )

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


def sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


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
    """Bytes one average step must read, at peak bandwidth. Not counted: the embeddings (a
    step gathers a few rows) and the cross-attention key/value projections (applied once
    per batch to the text, not per step)."""
    dec = lm.model.decoder
    size = torch.finfo(lm.dtype).bits // 8
    once = ("embed_tokens", "encoder_attn.k_proj", "encoder_attn.v_proj")
    weights = sum(p.numel() for n, p in dec.named_parameters() if not any(w in n for w in once)) * size
    cfg = dec.config
    rows = 2 * batch  # CFG
    kv = rows * cfg.num_hidden_layers * 2 * cfg.hidden_size * size * (steps / 2 + text)
    return (weights + kv) / (gbs * 1e9) * 1e3


def time_transformers(lm, prompts, steps, greedy: bool, cache: str | None = None,
                      **generate_kwargs) -> tuple[float, torch.Tensor]:
    """transformers' generate, timed; its tokens caught on their way to EnCodec. cache: None
    (generate's default), "static" (cache_implementation="static") or "static-object" (a
    StaticCache built here and passed in, for versions whose MusicGen generate ignores the
    first)."""
    ids, mask = lm.tokenize(prompts)
    ae = lm.model.audio_encoder
    caught = []
    original = ae.decode

    def keep_tokens(codes, *args, **kwargs):  # skip EnCodec: not what is being compared
        caught.append(codes[0])
        return _Dummy(codes)

    extra = _cache_kwargs(lm, cache, steps)
    ae.decode = keep_tokens
    try:
        sync(lm.device)
        t = time.perf_counter()
        lm.model.generate(input_ids=ids, attention_mask=mask, do_sample=not greedy, guidance_scale=3.0, top_k=250,
                          max_new_tokens=steps, **extra, **generate_kwargs)
        sync(lm.device)
        took = time.perf_counter() - t
    finally:
        ae.decode = original
    if len(caught) == 1:
        return took, caught[0]
    codes = torch.stack(caught, dim=2)  # stereo: left (even) and right (odd) codebooks came apart
    return took, codes.flatten(1, 2)


def _cache_kwargs(lm, cache: str | None, steps: int) -> dict:
    if cache is None:
        return {}
    if cache == "static":
        return {"cache_implementation": "static"}
    import inspect

    from transformers.cache_utils import DynamicCache, EncoderDecoderCache, StaticCache

    cfg = lm.model.decoder.config
    name = "cache" if "cache" in inspect.signature(type(lm.model.decoder).forward).parameters else "past_key_values"
    return {name: EncoderDecoderCache(StaticCache(config=cfg, max_cache_len=steps + 1), DynamicCache(config=cfg))}


def static_cache_reference(lm, prompts, steps: int = 12) -> tuple[str | None, str]:
    """transformers' static-cache generate as a reference, if it is a valid one here: the
    decoder really gets a static cache, and the greedy tokens are the default generate's.
    Returns the `cache` to time with (None: none is valid) and what was found."""
    import transformers

    _, want = time_transformers(lm, prompts, steps, greedy=True)
    found = []
    for cache in ("static", "static-object"):
        seen = set()
        decoder = lm.model.decoder
        forward, own = decoder.forward, vars(decoder).get("forward")

        def spy(*args, **kwargs):
            c = kwargs.get("cache", kwargs.get("past_key_values"))
            if c is not None:
                # Called within this iteration only (restored below), so the loop's
                # current `seen` and `forward` are the right ones.
                seen.add(type(getattr(c, "self_attention_cache", c)).__name__)  # noqa: B023
            return forward(*args, **kwargs)  # noqa: B023

        decoder.forward = spy
        try:
            _, got = time_transformers(lm, prompts, steps, greedy=True, cache=cache)
        except Exception as e:  # noqa: BLE001 - any refusal means: not a reference here
            found.append(f"{cache}: generate raised {type(e).__name__}: {str(e).splitlines()[0][:100]}")
            continue
        finally:
            if own is None:
                del decoder.forward  # back to the class's forward
            else:
                decoder.forward = own
        same = (got == want).all(dim=(0, 1))
        if not any("Static" in name for name in seen):
            found.append(f"{cache}: ignored for MusicGen (the decoder got {', '.join(sorted(seen)) or 'no cache'})")
        elif not same.all():
            found.append(f"{cache}: greedy tokens differ from the default's at frame {int((~same).nonzero()[0])}")
        else:
            compiled = getattr(type(lm.model), "_can_compile_fullgraph", False)
            found.append(f"{cache}: a static cache, the default's greedy tokens, "
                         f"{'compiled by' if compiled else 'not compiled: MusicGen not marked compilable in'} "
                         f"transformers {transformers.__version__}")
            return cache, "; ".join(found)
    return None, f"transformers {transformers.__version__}: " + "; ".join(found)


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
    ap.add_argument("--no-static", action="store_true", help="skip the static-cache reference")
    args = ap.parse_args()
    import transformers

    transformers.logging.set_verbosity_error()
    device = pick_device(args.device)
    dtype = pick_dtype(device, args.dtype)
    steps = args.steps or (1504 if device == "cuda" else 100)
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
    static, why = (None, "skipped (--no-static)") if args.no_static else static_cache_reference(lm, PROMPTS[:2])
    print(f"static-cache generate: {'timed' if static else 'not timed'}: {why}")
    print(f"{'batch':>5} {'loop':>12} {'ms/step':>9} {'audio s/s':>10} {'ratio':>6} {'floor ms':>9} {'of floor':>8}")
    for batch in args.batch or [1, 4]:
        prompts = [PROMPTS[i % len(PROMPTS)] for i in range(batch)]
        time_albumgen(loop, prompts, steps, greedy=False)  # warm-up: allocations, graph capture
        times = {}
        for name, cache in (("transformers", None), ("tf-static", static))[:2 if static else 1]:
            time_transformers(lm, prompts, min(steps, 20), greedy=False, cache=cache)  # warm-up (and compile)
            times[name], _ = time_transformers(lm, prompts, steps, greedy=False, cache=cache)
        best = min(times.values())
        times["albumgen"], _ = time_albumgen(loop, prompts, steps, greedy=False)
        fl = floor_ms(lm, batch, steps, 32, gbs)
        audio = batch * (steps - max(delays(lm.num_codebooks, lm.channels))) / lm.frame_rate
        for name, t in times.items():
            ms = t / steps * 1e3
            ratio = f"{best / t:.1f}x" if name == "albumgen" else ""
            print(f"{batch:>5} {name:>12} {ms:>9.2f} {audio / t:>10.2f} {ratio:>6} {fl:>9.3f} {fl / ms:>8.1%}")


if __name__ == "__main__":
    main()
