"""albumgen's decoding loop: transformers' MusicGen weights, none of its per-step overhead.

transformers' `generate` spends each step in Python: cache objects, mask builders, logits
processors, a host sync for stopping criteria. At batch 1 the GPU waits on that for ~90 % of
the step. This loop does the same maths (tests hold it to `generate`'s greedy tokens) with:

- a static KV cache allocated once per (batch, window) and written in place;
- cross-attention keys/values computed once per batch, not per step;
- CFG as one doubled batch (conditional rows first, as transformers does);
- sampling, per-take noise (noise.py) and the codebook delay pattern done on the device,
  with the step counter a device tensor, so no step waits for the host; the noise hashed for
  a whole bucket of positions at once, between steps, and read by each step as one row;
- attention over the filled part of the cache only, rounded up to a length bucket, and on
  CUDA one captured graph per bucket, replayed each step (one launch instead of hundreds).

Melody checkpoints (MusicgenMelody) have no cross-attention: the chroma and text states are
a prefix of the decoder's own sequence (melody.py). Their keys and values are computed once
per batch into the first `prefix` slots of the same static cache; each take's positions
start after its own prefix (chroma + its text length), and padded text slots are masked, so
a take's tokens still do not depend on the prompts it shares a batch with.

The state tensors live in `_State`; a graph reads and writes only those, so replays on a
new batch of the same shape reuse the graphs after their inputs are copied in.
"""
from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from . import noise
from .musicgen import encode_text, undelay
from .sampling import Sampling, filter_logits

log = logging.getLogger("albumgen")

TEXT_BUCKET = 32  # text lengths pad up to this, so one captured graph serves many prompts
# How the decoder attends. "sdpa": torch's scaled_dot_product_attention with an additive mask
# (it picks a fused kernel: cuDNN's on an H100/H200). "rowwise": two batched matmuls and a
# softmax per row (rowwise_attention), whose every reduction lies within one take's row.
ATTENTION = ("sdpa", "rowwise")
# Allocation failures that do not say "out of memory": a GEMM or convolution whose workspace
# did not fit. They are memory, to be met by a smaller batch, not a refused graph capture.
_ALLOC_FAILED = ("CUBLAS_STATUS_ALLOC_FAILED", "CUDNN_STATUS_ALLOC_FAILED", "cudaErrorMemoryAllocation")


def is_out_of_memory(e: BaseException | None) -> bool:
    """CUDA's OutOfMemoryError, MPS's RuntimeError that says so, and cuBLAS/cuDNN's own words,
    also where they are the cause of another error: an allocation that fails inside a graph
    capture surfaces as the capture's end failing ("operation failed due to a previous error
    during capture"), with the out-of-memory error as its context."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        text = str(e)
        if isinstance(e, torch.OutOfMemoryError) or "out of memory" in text.lower() or \
                any(word in text for word in _ALLOC_FAILED):
            return True
        e = e.__cause__ or e.__context__
    return False


def delays(num_codebooks: int, channels: int) -> list[int]:
    # Stereo checkpoints interleave L/R codebooks; each pair shares a delay.
    return [k // 2 if channels == 2 else k for k in range(num_codebooks)]


def _fuse(params: list[torch.Tensor], stack: bool = False) -> torch.Tensor:
    """params back to back in one tensor (concatenated, or stacked along a new first dim),
    with each parameter then made a view of its part: the fused tensor is the only copy, and
    the modules (transformers' own forward, generate) read the same memory. Parameters that
    are already consecutive parts of one storage (a second FastLoop on the same model) are
    viewed as one tensor without a copy."""
    parts = [p.detach() for p in params]
    first = parts[0]
    offset, consecutive = first.storage_offset(), True
    for p in parts:
        consecutive &= p.is_contiguous() and p.untyped_storage().data_ptr() == first.untyped_storage().data_ptr() \
            and p.storage_offset() == offset
        offset += p.numel()
    shape = (len(parts), *first.shape) if stack else (sum(p.shape[0] for p in parts), *first.shape[1:])
    if consecutive:
        strides = [1]
        for n in reversed(shape[1:]):
            strides.insert(0, strides[0] * n)
        return first.as_strided(shape, strides, first.storage_offset())
    fused = torch.stack(parts) if stack else torch.cat(parts)
    start = 0
    for i, p in enumerate(params):
        p.data = fused[i] if stack else fused[start:start + p.shape[0]]
        start += p.shape[0]
    return fused


def residual(x: torch.Tensor, h: torch.Tensor, linear) -> torch.Tensor:
    """x + linear(h) as one addmm: the residual is the GEMM's accumulator input (MusicGen's
    decoder projections have no bias), one kernel per sum instead of a GEMM and an add."""
    if linear.bias is not None:
        return x + linear(h)
    return torch.addmm(x.reshape(-1, x.shape[-1]), h.reshape(-1, h.shape[-1]), linear.weight.t()).view(x.shape)


def per_head(bias: torch.Tensor, rows: int, heads: int, t: int, n: int) -> torch.Tensor:
    """An additive mask broadcastable to (rows, heads, t, n) as (rows * heads, t, n), the
    batch layout of rowwise_attention (a view where the mask is shared by all rows)."""
    return bias.expand(rows, heads, t, n).reshape(rows * heads, t, n)


def rowwise_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(d) + bias) v for q (rows, heads, t, d), k and v (rows, heads, n, d),
    bias (rows * heads, t, n) (per_head): one baddbmm for the scores with the mask and the
    scale, a softmax over each query's row (accumulated in float32 for bf16 inputs too), one
    bmm. In bf16 the scores are rounded to bf16 before the softmax, as in transformers' eager
    attention (a fused kernel keeps them in float32).

    Why not scaled_dot_product_attention: a fused kernel chooses its tiling, its split of the
    keys across thread blocks and its reduction order by itself, from the shapes, the mask's
    strides and the device, and on a GPU a take's tokens were seen to depend on the rows it
    shares a batch with. Here every reduction (a dot product over d, the softmax over n, the
    weighted sum over n) runs within one (row, head) in an order the shapes alone fix, with
    cuBLAS's batched GEMMs (deterministic on one stream) and torch's row softmax: no value of
    another row, and no mask layout, can change it."""
    r, h, t, d = q.shape
    n = k.shape[2]
    s = torch.baddbmm(bias, q.reshape(r * h, t, d), k.reshape(r * h, n, d).transpose(1, 2), alpha=1.0 / math.sqrt(d))
    p = torch.softmax(s, -1)
    return torch.bmm(p, v.reshape(r * h, n, d)).view(r, h, t, d)


class _Weights:
    """The decoder's weights regrouped for one-row steps: fused q/k/v, stacked embeddings
    and heads (one GEMM for all codebooks instead of one per codebook). Fused in place
    (_fuse): a second copy would cost 0.7 GB of memory for medium, 1.2 GB for large."""

    def __init__(self, lm):
        dec = lm.model.decoder
        core = dec.model.decoder
        self.core = core
        self.layers = list(core.layers)
        cfg = core.config
        self.heads_n = cfg.num_attention_heads
        self.dim = cfg.hidden_size
        self.head_dim = self.dim // self.heads_n
        self.vocab = cfg.vocab_size
        self.codebooks = cfg.num_codebooks
        with torch.no_grad():
            self.emb = _fuse([e.weight for e in core.embed_tokens], stack=True)  # (K, V+1, D)
            self.qkv = [_fuse([la.self_attn.q_proj.weight, la.self_attn.k_proj.weight, la.self_attn.v_proj.weight])
                        for la in self.layers]
            self.heads = _fuse([h.weight for h in dec.lm_heads])  # (K*V, D)
        self.kidx = torch.arange(self.codebooks, device=self.emb.device).view(1, -1, 1)

    def positions(self, n: int) -> torch.Tensor:
        table = self.core.embed_positions
        if table.weights.shape[0] < n:  # same growth rule as transformers' own forward
            table.make_weights(n, table.embedding_dim)
        return table.weights


@dataclass
class _State:
    """Every tensor one batch size and sampling setting needs, allocated once with room for
    the longest window and text seen; shorter ones use a part (a take's last window, a
    batch of shorter prompts) and keep the graphs already captured."""

    batch: int
    max_pos: int  # capacity in positions
    kv: torch.Tensor  # (layers, 2, rows, heads, prefix + max_pos, head_dim) self-attention keys, values
    ck: torch.Tensor  # (layers, rows, heads, text, head_dim) cross-attention keys, per batch (text 0: melody)
    cv: torch.Tensor
    enc_bias: torch.Tensor  # (rows, 1, 1, text) 0 or a large negative for padded text
    keys: torch.Tensor  # (batch, 2) per-take noise keys
    forced: torch.Tensor  # (batch, K, max_pos) -1 where sampled, else the token to force
    grid: torch.Tensor  # (batch, K, max_pos) tokens in the delay pattern
    pos: torch.Tensor  # (1,) input position of the next step
    offset: torch.Tensor  # (1,) absolute frame of position 0, so windows get fresh noise
    # Melody models: cache slots [0, prefix) hold the chroma + text prefix, audio position q
    # is slot prefix + q and position pos_off + q (its take's own prefix length).
    text: int = 0  # text capacity (tokens)
    prefix: int = 0  # cache slots before the audio positions (0: cross-attention models)
    pos_off: torch.Tensor | None = None  # (batch,) position of each take's audio position 0
    prefix_bias: torch.Tensor | None = None  # (rows, 1, 1, prefix) 0, or -inf for padded text
    # (max_pos, max_pos) in the model's dtype: row q is 0 up to column q, -inf after it. A
    # step's mask is one row of it (one index_select), not built from the columns (two ops).
    causal: torch.Tensor | None = None
    # Sampled states: (batch, bucket, K, V) float32, the negated Gumbel noise of the bucket's
    # positions, slot = position % bucket, filled outside the graphs once per bucket (_fill_noise).
    noise: torch.Tensor | None = None
    graphs: dict = field(default_factory=dict)
    eager: str | None = None  # why this state's graphs were refused twice: it decodes eagerly
    # Its own graph memory pool: capturing a new state's graphs into the pool of graphs that
    # were just freed with the old state is a known allocator assertion.
    pool: object = None

    def nbytes(self) -> int:
        return sum(t.nbytes for t in vars(self).values() if isinstance(t, torch.Tensor))

    @property
    def kc(self) -> torch.Tensor:
        return self.kv[:, 0]

    @property
    def vc(self) -> torch.Tensor:
        return self.kv[:, 1]


class FastLoop:
    """One per loaded model; keeps states and graphs across batches of the same shape."""

    def __init__(self, lm, bucket: int | None = None, graphs: bool | None = None, attention: str = "sdpa"):
        if attention not in ATTENTION:
            raise ValueError(f"attention must be one of {ATTENTION}, not {attention!r}")
        self.lm = lm
        self.attention = attention
        self.w = _Weights(lm)
        self.device = torch.device(lm.device)
        cuda = self.device.type == "cuda"
        self.bucket = bucket or (128 if cuda else 64)
        self.use_graphs = cuda if graphs is None else graphs
        self.pad = lm.model.decoder.config.pad_token_id
        self.counters = noise.token_counters(self.w.codebooks, self.w.vocab, self.device)
        self._states: dict = {}
        self.graphs_off: str | None = None  # why capture was refused, once it was
        self._refused_states = 0  # states whose capture failed twice; at 2, graphs go off for good
        self._capture_stream = None  # per loop, on its device (torch.cuda.graph's default is on device 0)
        config = lm.model.config
        self.melody = config.model_type == "musicgen_melody"
        self.chroma_length = config.chroma_length if self.melody else 0
        self.chroma = getattr(lm, "chroma", None)  # the checkpoint's ChromaSettings (melody models)

    def reset(self) -> None:
        """Drop caches and graphs (after an OOM, before measuring free memory for a batch)."""
        for st in self._states.values():
            st.graphs.clear()  # graphs first: they point into the state's tensors and pool
        self._states.clear()

    def held_bytes(self) -> int:
        """Bytes the kept states' tensors hold (KV caches, cross-attention, token grids)."""
        return sum(st.nbytes() for st in self._states.values())

    def kv_bytes_per_take(self, window_frames: int, text_len: int = 64, cfg: bool = True) -> int:
        """Cache bytes one take needs: what batch_size 'auto' divides free memory by."""
        w = self.w
        per_pos = 2 * len(w.layers) * w.dim * torch.finfo(self.lm.dtype).bits // 8
        rows = 2 if cfg else 1
        noise = self.bucket * w.codebooks * w.vocab * 4  # the per-bucket noise (sampled renders)
        return rows * per_pos * (window_frames + w.codebooks + 1 + text_len + self.chroma_length) + noise

    # -- public -------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, prompts: list[str], seeds: list[int], frames: int, sampling: Sampling,
                 prompt_codes: torch.Tensor | None = None, frame_offset: int = 0, on_step=None,
                 rows: int | None = None, melodies: list | None = None) -> torch.Tensor:
        """Tokens (batch, codebooks, frames); the first prompt_codes.shape[-1] frames are the
        given prompt. frame_offset is the absolute frame of this window's start. rows: compute
        in exactly this many takes, the batch padded with copies of its last take (dropped from
        the result): on CUDA the kernels, and so the last bits of a take's logits, depend on
        the row count, not on what the other rows hold. melodies: per take, a mono waveform
        (1, samples) at the model's rate or None (melody models only); a continuation window
        follows the melody from its own start on (reference.melody_window)."""
        n = len(prompts)
        if melodies is not None and not self.melody:
            raise ValueError("melodies given to a model without melody conditioning")
        if rows is not None and rows > n:
            pad = rows - n
            prompts, seeds = prompts + prompts[-1:] * pad, seeds + seeds[-1:] * pad
            if melodies is not None:
                melodies = melodies + melodies[-1:] * pad
            if prompt_codes is not None:
                prompt_codes = torch.cat([prompt_codes, prompt_codes[-1:].expand(pad, -1, -1)])
        with self._on_device():
            return self._generate(prompts, seeds, frames, sampling, prompt_codes, frame_offset, on_step,
                                  melodies)[:n]

    def _on_device(self):
        """torch.cuda's calls that take no device (graph pools, torch.cuda.graph's own syncs and
        cache frees) address the current device: make it this loop's, so cuda:1 works."""
        return torch.cuda.device(self.device) if self.device.type == "cuda" else contextlib.nullcontext()

    def _generate(self, prompts, seeds, frames, sampling, prompt_codes, frame_offset, on_step,
                  melodies=None) -> torch.Tensor:
        lm, w = self.lm, self.w
        b, k = len(prompts), w.codebooks
        dl = delays(k, lm.channels)
        max_pos = frames + max(dl) + 1
        h, mask = encode_text(lm, prompts, sampling.cfg)
        text = -(-h.shape[1] // TEXT_BUCKET) * TEXT_BUCKET
        st = self._state(b, max_pos, text, sampling)
        if self.melody:
            from .melody import take_chromas

            chromas = take_chromas(melodies, b, self.chroma, lm.sample_rate, lm.frame_rate, frame_offset, frames)
            self._prefill(st, h, mask, chromas, sampling.cfg > 1)
        self._load(st, h, mask, seeds, frames, dl, prompt_codes, frame_offset)
        known = 0 if prompt_codes is None else prompt_codes.shape[-1]
        if known:  # the prompt's positions are all known: one forward fills their cache
            q = torch.arange(known, device=self.device)
            self._hidden(st, st.grid[:, :, :known], q, self._bucket(known, max_pos))
        st.pos.fill_(known)
        steps = max_pos - 1 - known
        for i in range(steps):
            q = known + i
            if st.noise is not None and (i == 0 or q % self.bucket == 0):  # the bucket's noise, once
                self._fill_noise(st, q, min(max_pos - 1, (q // self.bucket + 1) * self.bucket))
            length = self._bucket(q + 1, max_pos)
            graph = self._graph_or_none(st, length, sampling) if self.use_graphs else None
            if graph is not None:
                graph.replay()
            else:
                self._step(st, length, sampling)
            if on_step is not None and ((i + 1) % 25 == 0 or i + 1 == steps):
                if self.device.type == "cuda":
                    torch.cuda.synchronize(self.device)  # progress every 25 steps, not a sync per step
                on_step(i + 1, steps)
        return undelay(st.grid[:, :, :max_pos].reshape(b * k, max_pos), k, lm.channels, frames)

    # -- state --------------------------------------------------------------------------
    def _state(self, b: int, max_pos: int, text: int, s: Sampling) -> _State:
        key = (b, s.cfg > 1, s.cfg, s.greedy, s.top_k, s.top_p, s.temperature)
        st = self._states.get(key)
        if st is None or st.max_pos < max_pos or st.text < text:
            # One at a time, and the old cache unreferenced (this name too) before the new one
            # is allocated: sized to most of free memory, both at once would not fit.
            st = None
            self.reset()
            w, dev, dt = self.w, self.device, self.lm.dtype
            rows = 2 * b if s.cfg > 1 else b
            prefix = self.chroma_length + text if self.melody else 0
            # Keys and values side by side: one index_copy_ per layer writes both.
            kv = (len(w.layers), 2, rows, w.heads_n, prefix + max_pos, w.head_dim)
            cross = 0 if self.melody else text
            ckv = (len(w.layers), rows, w.heads_n, cross, w.head_dim)
            st = _State(b, max_pos, torch.zeros(kv, dtype=dt, device=dev),
                        torch.zeros(ckv, dtype=dt, device=dev), torch.zeros(ckv, dtype=dt, device=dev),
                        torch.zeros(rows, 1, 1, cross, dtype=dt, device=dev),
                        torch.zeros(b, 2, dtype=torch.long, device=dev),
                        torch.zeros(b, w.codebooks, max_pos, dtype=torch.long, device=dev),
                        torch.zeros(b, w.codebooks, max_pos, dtype=torch.long, device=dev),
                        torch.zeros(1, dtype=torch.long, device=dev), torch.zeros(1, dtype=torch.long, device=dev),
                        text=text, prefix=prefix, pos_off=torch.zeros(b, dtype=torch.long, device=dev),
                        prefix_bias=torch.zeros(rows, 1, 1, prefix, dtype=dt, device=dev),
                        causal=torch.full((max_pos, max_pos), float("-inf"), dtype=dt, device=dev).triu_(1),
                        noise=None if s.greedy else torch.zeros(b, self.bucket, w.codebooks, w.vocab, device=dev,
                                                                dtype=torch.float32))
            self._states[key] = st
        return st

    def _load(self, st: _State, h, mask, seeds, frames, dl, prompt_codes, frame_offset) -> None:
        """Copy one batch's inputs into the state's tensors (graphs read them in place)."""
        if not self.melody:
            text = st.ck.shape[3]
            pad_n = text - h.shape[1]
            h = F.pad(h, (0, 0, 0, pad_n)).to(self.lm.dtype)
            mask = F.pad(mask, (0, pad_n))
            # A large finite negative, not -inf: the unconditional rows mask every text position,
            # and an all -inf row would give NaN where transformers gives 0 (their values are 0).
            st.enc_bias.copy_(((1 - mask.to(st.enc_bias.dtype)) * torch.finfo(st.enc_bias.dtype).min)[:, None, None, :])
            for i, layer in enumerate(self.w.layers):
                st.ck[i].copy_(self._split(layer.encoder_attn.k_proj(h)))
                st.cv[i].copy_(self._split(layer.encoder_attn.v_proj(h)))
        st.keys.copy_(noise.take_keys(seeds, self.device))
        st.forced.fill_(self.pad)
        known = 0 if prompt_codes is None else prompt_codes.shape[-1]
        for k, d in enumerate(dl):
            st.forced[:, k, 1 + d:1 + d + frames] = -1
            if known:
                st.forced[:, k, 1 + d:1 + d + known] = prompt_codes[:, k].to(self.device)
        st.grid.copy_(st.forced)
        st.offset.fill_(frame_offset)

    def _bucket(self, filled: int, max_pos: int) -> int:
        return min(max_pos, -(-filled // self.bucket) * self.bucket)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        """(rows, T, D) -> (rows, heads, T, head_dim)"""
        return x.view(x.shape[0], x.shape[1], self.w.heads_n, self.w.head_dim).transpose(1, 2)

    # -- the maths ----------------------------------------------------------------------
    def _hidden(self, st: _State, tok: torch.Tensor, q: torch.Tensor, length: int) -> torch.Tensor:
        """Decoder over input tokens (batch, K, T) at positions q (T,), writing their keys and
        values into the cache; attends over audio positions [0, length) (and the prefix)."""
        w = self.w
        x = w.emb[w.kidx, tok].sum(1)  # (batch, T, D): sum of the codebooks' embeddings
        table = w.positions(st.prefix + st.max_pos)
        if st.prefix:  # each take's positions start after its own prefix
            at = (st.pos_off[:, None] + q[None, :]).flatten()
            pos = table.index_select(0, at).view(x.shape).to(x.dtype)
        else:
            pos = table.index_select(0, q).to(x.dtype)
        if st.kv.shape[2] != st.batch:  # CFG: the unconditional rows see the same tokens; the
            x = (x.expand(2, *x.shape) + pos).flatten(0, 1)  # broadcast add makes both halves
        else:
            x = x + pos
        # -inf beyond each query's own position; positions not yet written are masked out too.
        bias = st.causal.index_select(0, q)[:, :length]
        if st.prefix:  # every audio position sees the whole prefix but its padding
            rows = x.shape[0]
            bias = torch.cat([st.prefix_bias.expand(rows, 1, q.shape[0], st.prefix),
                              bias.expand(rows, 1, -1, -1)], dim=-1)
        return self._layers(st, x, q + st.prefix if st.prefix else q, bias, st.prefix + length)

    def _layers(self, st: _State, x: torch.Tensor, slots: torch.Tensor, bias: torch.Tensor,
                length: int) -> torch.Tensor:
        """The decoder's layers over hidden states x (rows, T, D) stored at cache slots `slots`,
        attending over slots [0, length) with the additive `bias`."""
        w = self.w
        rows, t = x.shape[0], x.shape[1]
        if self.attention == "rowwise":  # the masks in the batched matmuls' layout, once per step
            bias = per_head(bias, rows, w.heads_n, t, length)
            if not self.melody:
                enc_bias = per_head(st.enc_bias, rows, w.heads_n, t, st.ck.shape[3])
        for i, layer in enumerate(w.layers):
            hs = layer.self_attn_layer_norm(x)
            qkv = F.linear(hs, w.qkv[i])
            kv = qkv[..., w.dim:].view(rows, t, 2, w.heads_n, w.head_dim).permute(2, 0, 3, 1, 4)
            st.kv[i].index_copy_(3, slots, kv)  # (2, rows, heads, T, head_dim): keys and values at once
            q, k, v = self._split(qkv[..., :w.dim]), st.kv[i, 0, :, :, :length], st.kv[i, 1, :, :, :length]
            if self.attention == "rowwise":
                a = rowwise_attention(q, k, v, bias)
            else:
                a = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
            x = residual(x, a.transpose(1, 2).reshape(rows, t, w.dim), layer.self_attn.out_proj)
            if not self.melody:
                hs = layer.encoder_attn_layer_norm(x)
                q = self._split(layer.encoder_attn.q_proj(hs))
                if self.attention == "rowwise":
                    a = rowwise_attention(q, st.ck[i], st.cv[i], enc_bias)
                else:
                    a = F.scaled_dot_product_attention(q, st.ck[i], st.cv[i], attn_mask=st.enc_bias)
                x = residual(x, a.transpose(1, 2).reshape(rows, t, w.dim), layer.encoder_attn.out_proj)
            hs = layer.final_layer_norm(x)
            x = residual(x, layer.activation_fn(layer.fc1(hs)), layer.fc2)
        return w.core.layer_norm(x)

    # -- melody prefix ------------------------------------------------------------------
    def _prefill(self, st: _State, h: torch.Tensor, mask: torch.Tensor, chromas: list, cfg: bool) -> None:
        """Write the chroma + text prefix's keys and values into cache slots [0, prefix).
        A take's real text tokens sit right after its chroma, so their positions are the ones
        transformers gives them; padded slots are masked for every query. The unconditional
        rows attend to as many (zero) text states as their take has tokens, as in `generate`."""
        from .melody import prefix_states

        b, c, text = st.batch, self.chroma_length, st.text
        lengths = mask[:b].sum(1)
        h = F.pad(h, (0, 0, 0, text - h.shape[1]))
        x = prefix_states(self.lm.model, chromas, h, cfg).to(self.lm.dtype)
        slots = torch.arange(st.prefix, device=self.device)
        x = x + self.w.positions(st.prefix + st.max_pos)[:st.prefix].to(x.dtype)
        seen = slots[None, :] < (c + lengths.repeat(x.shape[0] // b))[:, None]  # (rows, prefix)
        st.prefix_bias.copy_(torch.zeros_like(seen, dtype=x.dtype).masked_fill(~seen, float("-inf"))[:, None, None])
        st.pos_off.copy_(c + lengths)
        causal = torch.zeros(st.prefix, st.prefix, dtype=x.dtype, device=self.device).masked_fill(
            slots[None, :] > slots[:, None], float("-inf"))
        self._layers(st, x, slots, causal + st.prefix_bias, st.prefix)  # (rows, 1, prefix, prefix)

    def _fill_noise(self, st: _State, start: int, stop: int) -> None:
        """The noise of positions [start, stop) (one bucket's, or its rest) into their slots,
        eagerly between steps: the hash's ~35 elementwise kernels run once per bucket over all
        its positions, not in every step (and graph). The same numbers as hashing each step
        (noise.negated_gumbel_steps); a sixteenth of a bucket at a time, so each int64
        temporary is an eighth of the table's bytes: small beside a cache sized to most of free
        memory, like a step's activations."""
        chunk = max(1, self.bucket // 16)
        for lo in range(start, stop, chunk):
            hi = min(stop, lo + chunk)
            steps = torch.arange(lo, hi, device=self.device) + st.offset  # absolute frames: windows get fresh noise
            slot = lo % self.bucket
            st.noise[:, slot:slot + hi - lo] = noise.negated_gumbel_steps(st.keys, steps, self.counters)

    def _step(self, st: _State, length: int, s: Sampling) -> None:
        """One decoding step, entirely on the device: read position pos, write pos+1."""
        w, b = self.w, st.batch
        q = st.pos
        x = self._hidden(st, st.grid.index_select(2, q), q, length)
        logits = F.linear(x[:, -1], w.heads).float().view(-1, w.codebooks, w.vocab)
        if logits.shape[0] != b:
            cond, uncond = logits[:b], logits[b:]
            logits = torch.add(uncond, cond - uncond, alpha=s.cfg)  # uncond + (cond - uncond) * cfg
        if s.greedy:
            nxt = logits.argmax(-1)
        else:
            logits = filter_logits(logits, s)
            # logits - (-gumbel) is logits + gumbel to the bit, one negation fewer
            ng = st.noise.index_select(1, torch.remainder(q, self.bucket)).squeeze(1)  # _fill_noise's
            nxt = (logits - ng).argmax(-1)
        st.pos.add_(1)  # q (the same tensor) is the written position from here on
        forced = st.forced.index_select(2, q).squeeze(-1)
        nxt = torch.where(forced < 0, nxt, forced)
        st.grid.index_copy_(2, q, nxt.unsqueeze(-1))

    def _graph_or_none(self, st: _State, length: int, s: Sampling):
        """A graph for this bucket, or None (eager) when capture is refused: a torch/driver
        combination that cannot capture some kernel must still render. A refused capture is
        tried once more (a passing cause: a lazy init, another stream's work); refused twice,
        this state decodes eagerly, and the next state (a new batch shape) tries again. After
        two states were refused, graphs stay off. Out of memory is not a refusal: it goes up,
        and the engine halves the batch."""
        graph = st.graphs.get(length)
        if graph is not None or st.eager:
            return graph
        saved = st.pos.clone()
        why = None
        for _ in range(2):
            try:
                return self._graph(st, length, s)
            except RuntimeError as e:
                if is_out_of_memory(e):
                    raise
                st.pos.copy_(saved)  # a capture that failed half way must not leave the counter moved
                why = (str(e).splitlines() or [type(e).__name__])[0][:200]
        st.eager = self.graphs_off = why
        st.graphs.clear()
        self._refused_states += 1
        if self._refused_states >= 2:
            self.use_graphs = False
        log.warning("render: CUDA graph capture failed twice (%s); decoding this batch shape without graphs", why)
        return None

    def _graph(self, st: _State, length: int, s: Sampling):
        """The step for one length bucket as a CUDA graph, captured on first use."""
        g = st.graphs.get(length)
        if g is None:
            saved = st.pos.clone()
            dev = self.device
            if st.pool is None:
                st.pool = torch.cuda.graph_pool_handle() if dev.type == "cuda" else _Pool()
            if dev.type == "cuda":
                if self._capture_stream is None:
                    self._capture_stream = torch.cuda.Stream(device=dev)
                side = self._capture_stream
                side.wait_stream(torch.cuda.current_stream(dev))
                with torch.cuda.stream(side):  # warm-up run: lazy inits must not happen in capture
                    self._step(st, length, s)
                torch.cuda.current_stream(dev).wait_stream(side)
            else:
                self._step(st, length, s)
            # The warm-up wrote the values the replay will write again; only the counter goes back.
            st.pos.copy_(saved)
            if dev.type == "cuda":
                g = torch.cuda.CUDAGraph()
                with torch.cuda.graph(g, pool=st.pool, stream=self._capture_stream):
                    self._step(st, length, s)
            else:  # stands in for a graph so CPU tests run the same warm-up and bucket logic
                g = _Replay(lambda: self._step(st, length, s), st.pool)
            st.graphs[length] = g
        return g


class _Replay:
    def __init__(self, fn, pool):
        self.replay = fn
        self.pool = pool


class _Pool:
    """What a CPU stand-in graph is captured into: one per state, like a CUDA graph pool."""
