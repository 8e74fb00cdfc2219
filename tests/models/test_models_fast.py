"""The fast loop against transformers' generate and the reference loop, on the tiny model."""
from __future__ import annotations

import weakref

import pytest
import torch
from helpers import hf_generate_codes
from reference_loop import generate_codes
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

from albumgen.models import noise
from albumgen.models.fast import FastLoop, is_out_of_memory
from albumgen.models.musicgen import decode_tokens, load_musicgen
from albumgen.models.sampling import Sampling
from albumgen.models.windows import Windows, generate_long

PROMPTS = ["calm piano", "a much longer prompt about drums, bass and a slow organ"]
SEEDS = [11, 2**62 + 5]
FRAMES = 40


@pytest.fixture(scope="module", params=["tiny", "tiny-stereo"])
def lm(request):
    return load_musicgen(request.param, "cpu")


@pytest.fixture(scope="module")
def loop(lm):
    return FastLoop(lm)


def hf_greedy_codes(lm, prompts, frames):
    """transformers' own generate, greedy with CFG 3; its tokens caught on their way to EnCodec."""
    seen = hf_generate_codes(lm, prompts, frames + lm.num_codebooks // lm.channels - 1)
    if lm.channels == 1:
        return seen[0]
    out = torch.empty(len(prompts), lm.num_codebooks, frames, dtype=torch.long)
    out[:, 0::2], out[:, 1::2] = seen  # generate decodes left (even) and right (odd) codebooks apart
    return out


def test_fast_greedy_equals_transformers_generate(lm, loop):
    want = hf_greedy_codes(lm, PROMPTS, FRAMES)
    got = loop.generate(PROMPTS, SEEDS, FRAMES, Sampling(greedy=True))
    assert got.shape == (2, lm.num_codebooks, FRAMES)
    assert torch.equal(got, want)
    assert torch.equal(generate_codes(lm, PROMPTS, SEEDS, FRAMES, Sampling(greedy=True)), want)


def test_fast_sampling_equals_reference_loop(lm, loop):
    s = Sampling(top_k=12, top_p=0.9, temperature=0.8, cfg=3.0)
    got = loop.generate(PROMPTS, SEEDS, FRAMES, s)
    assert torch.equal(got, generate_codes(lm, PROMPTS, SEEDS, FRAMES, s))
    # Sampled tokens differ from greedy ones and between takes: the noise is really there.
    assert not torch.equal(got, loop.generate(PROMPTS, SEEDS, FRAMES, Sampling(greedy=True)))
    assert not torch.equal(got[0], got[1])


def test_take_tokens_do_not_depend_on_batch_layout(loop):
    s = Sampling(top_k=20)
    batch = loop.generate(PROMPTS + ["strings"], SEEDS + [7], FRAMES, s)
    alone = loop.generate(PROMPTS[1:], SEEDS[1:], FRAMES, s)
    assert torch.equal(batch[1], alone[0])
    assert torch.equal(loop.generate(PROMPTS, SEEDS, FRAMES, s), batch[:2])  # and again: same tokens


def test_graph_path_gives_the_eager_tokens(lm, loop):
    """The per-bucket capture path (warm-up step, counter restored, replays), run on CPU with
    a stand-in for the CUDA graph; small buckets so a take crosses several."""
    s = Sampling(top_k=20)
    graphed = FastLoop(lm, bucket=8, graphs=True)
    got = graphed.generate(PROMPTS, SEEDS, FRAMES, s)
    assert torch.equal(got, loop.generate(PROMPTS, SEEDS, FRAMES, s))
    last = FRAMES + lm.num_codebooks // lm.channels  # the whole window: 44 positions
    assert sorted(next(iter(graphed._states.values())).graphs) == [8, 16, 24, 32, 40, last]
    assert torch.equal(graphed.generate(PROMPTS, SEEDS, FRAMES, s), got)  # graphs reused on a new batch


def refusing(loop, refuse):
    """loop._graph refusing the captures whose call numbers (from 1) `refuse` holds."""
    real, calls = loop._graph, []

    def capture(st, length, s):
        calls.append(length)
        if refuse(len(calls)):
            st.pos.add_(1)  # a capture that fails half way must not leave the counter moved
            raise RuntimeError("operation not permitted when stream is capturing")
        return real(st, length, s)

    loop._graph = capture
    return calls


def test_a_capture_refused_once_is_tried_again(lm, loop):
    s = Sampling(top_k=20)
    graphed = FastLoop(lm, bucket=8, graphs=True)
    calls = refusing(graphed, lambda n: n == 3)
    assert torch.equal(graphed.generate(PROMPTS, SEEDS, FRAMES, s), loop.generate(PROMPTS, SEEDS, FRAMES, s))
    assert calls[:4] == [8, 16, 24, 24] and graphed.graphs_off is None and graphed.use_graphs
    (st,) = graphed._states.values()
    assert st.eager is None and 24 in st.graphs


def test_a_capture_refused_twice_decodes_that_state_eagerly_and_the_next_state_tries_again(lm, loop, caplog):
    s = Sampling(top_k=20)
    graphed = FastLoop(lm, bucket=8, graphs=True)
    calls = refusing(graphed, lambda n: n >= 3)  # from the third bucket's capture on, always refused
    got = graphed.generate(PROMPTS, SEEDS, FRAMES, s)
    assert torch.equal(got, loop.generate(PROMPTS, SEEDS, FRAMES, s))
    assert calls == [8, 16, 24, 24] and "CUDA graph capture failed twice" in caplog.text
    assert graphed.graphs_off == "operation not permitted when stream is capturing"  # what the engine reports
    (st,) = graphed._states.values()
    assert st.eager and not st.graphs and graphed.use_graphs
    # A new batch shape is a new state: its capture is tried (and here refused) again; after a
    # second refused state, graphs are off for good and no capture is tried any more.
    three = graphed.generate(PROMPTS + ["strings"], SEEDS + [7], FRAMES, s)
    assert calls == [8, 16, 24, 24, 8, 8] and not graphed.use_graphs
    assert torch.equal(three[:2], got)
    graphed.generate(PROMPTS, SEEDS, FRAMES, s)
    assert len(calls) == 6


def test_out_of_memory_behind_a_failed_capture_end_is_out_of_memory(lm):
    """An allocation that fails inside a capture surfaces as the capture's end failing, with
    the out-of-memory error as its context: the engine must halve the batch, not lose graphs."""
    try:
        try:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        except torch.OutOfMemoryError:
            raise RuntimeError("CUDA error: operation failed due to a previous error during capture")  # noqa: B904
    except RuntimeError as e:
        wrapped = e
    assert is_out_of_memory(wrapped) and not is_out_of_memory(RuntimeError("operation failed during capture"))
    graphed = FastLoop(lm, bucket=8, graphs=True)

    def capture(st, length, s):
        raise wrapped

    graphed._graph = capture
    with pytest.raises(RuntimeError, match="previous error during capture"):
        graphed.generate(PROMPTS, SEEDS, FRAMES, Sampling(top_k=20))
    assert graphed.use_graphs and graphed.graphs_off is None


def test_the_noise_hash_keeps_its_values_with_fewer_kernels():
    """The 32-bit multiply in five int64 ops, the uniform from (h >> 8) | 1, and the negated
    noise: the same numbers as the plain arithmetic, so no take's tokens move."""
    edge = [0, 1, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xDEADBEEF, 123456789]
    x = torch.tensor(edge + torch.randint(0, 2**32, (1000,), generator=torch.Generator().manual_seed(0)).tolist())
    for c in (0x7FEB352D, 0x846CA68B):
        assert noise._mul32(x, c).tolist() == [(v * c) % 2**32 for v in x.tolist()]
        assert [noise._mul32(v, c) for v in edge] == [(v * c) % 2**32 for v in edge]  # Python ints too
    keys, counters = noise.take_keys([1, 2**62 + 5], "cpu"), noise.token_counters(4, 2048, "cpu")
    for step in (0, 7, torch.tensor([123456])):
        g = noise.gumbel(keys, step, counters)
        assert torch.equal(noise.negated_gumbel(keys, step, counters), -g)
        steps = torch.tensor([int(step), int(step) + 1, int(step) + 64])  # a bucket's steps at once: the same numbers
        bulk = noise.negated_gumbel_steps(keys, steps, counters)
        assert bulk.shape == (2, 3, 4, 2048) and torch.equal(bulk[:, 0], -g)
        assert torch.equal(bulk[:, 2], noise.negated_gumbel(keys, int(step) + 64, counters))
        h = noise.mix32(noise.mix32((counters + step * 8192) & noise.M32 ^ keys[:, 0, None, None]) ^ keys[:, 1, None, None])
        u = ((h >> 9).to(torch.float32) + 0.5) * (1.0 / (1 << 23))  # the plain form of the uniform
        assert g.dtype == torch.float32 and torch.equal(g, -torch.log(-torch.log(u)))


def test_a_decoding_step_allocates_no_mask_nor_cfg_rows_and_writes_keys_and_values_at_once(lm):
    """Per step: one index_copy_ per layer for keys and values together, one for the token
    grid; the causal mask from the state's column table (no arange, no zeros), the CFG rows
    by a broadcast add (no cat)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from ops_per_step import step_ops

    ops = step_ops(FastLoop(lm, graphs=False), 2, Sampling(top_k=20), position=10)
    layers = lm.model.config.decoder.num_hidden_layers
    assert ops["index_copy_"] == layers + 1
    assert not {"arange", "zeros", "cat"} & set(ops)
    assert "neg" not in ops and "log" not in ops  # the noise is read from its bucket's table (_fill_noise)
    assert ops["native_layer_norm"] == 3 * layers + 1 and ops["argmax"] == 1


def test_a_decoding_step_adds_each_residual_inside_its_gemm_and_takes_its_mask_as_one_row(lm):
    """Fewer kernels, the same tokens (the tests above): the three residual sums of a layer are
    the accumulator inputs of their projections' addmm, the causal mask is one row of the
    state's table, CFG is a subtraction and an add with alpha, the noise is one row of its
    bucket's table (no hash in the step); the cache slots are the positions themselves (no
    prefix to add)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from ops_per_step import step_ops

    ops = step_ops(FastLoop(lm, graphs=False), 2, Sampling(top_k=20), position=10)
    layers = lm.model.config.decoder.num_hidden_layers
    assert ops["addmm"] == 3 * layers and ops["mm"] == 3 * layers + 1  # q/k/v, cross q, fc1; the heads
    assert ops["add"] == 2 and ops["sub"] == 2 and "gt" not in ops and "mul" not in ops  # positions, CFG
    assert ops["where"] == 1 and ops["index_select"] == 5 and ops["remainder"] == 1  # 1 for the noise slot


def test_noise_is_a_function_of_seed_step_codebook_token():
    counters = noise.token_counters(4, 64, "cpu")
    keys = noise.take_keys([1, 2, 1], "cpu")
    g = noise.gumbel(keys, 3, counters)
    assert g.shape == (3, 4, 64) and torch.isfinite(g).all()
    assert torch.equal(g[0], g[2]) and not torch.equal(g[0], g[1])
    assert not torch.equal(g, noise.gumbel(keys, 4, counters))
    assert torch.equal(g, noise.gumbel(keys, torch.tensor([3]), counters))  # a device counter gives the same
    u = torch.exp(-torch.exp(-noise.gumbel(noise.take_keys([5], "cpu"), 0, noise.token_counters(64, 2048, "cpu"))))
    assert abs(u.mean().item() - 0.5) < 0.01 and abs(u.var().item() - 1 / 12) < 0.005  # uniform underneath


def test_continuation_past_the_window(lm, loop):
    """A 2 s take with 1 s windows and 0.6 s stride: windows at frames 0, 30 and 60."""
    windows = Windows(max_frames=50, stride_frames=30)
    assert windows.plan(100) == [(0, 50), (30, 50), (60, 40)]
    s = Sampling(top_k=20)
    seen = []
    codes = generate_long(loop, PROMPTS, SEEDS, 100, s, windows, on_step=seen.append)
    k = lm.num_codebooks
    assert codes.shape == (2, k, 100)
    delay = k // lm.channels - 1
    assert seen[-1] == windows.steps(100, delay) == 50 + 30 + 20 + 3 * delay
    # The first window is the take a single 1 s render gives; what follows continues it.
    first = loop.generate(PROMPTS, SEEDS, 50, s)
    assert torch.equal(codes[..., :50], first)
    # The second window, prompted with frames 30..49, keeps them and adds frames 50..79.
    second = loop.generate(PROMPTS, SEEDS, 50, s, prompt_codes=first[..., 30:], frame_offset=30)
    assert torch.equal(second[..., :20], first[..., 30:])
    assert torch.equal(codes[..., 50:80], second[..., 20:])
    assert not torch.equal(codes[..., 50:60], codes[..., 40:50])  # fresh noise, not a loop of the prompt

    assert len(loop._states) == 1  # the shorter last window reused the first window's cache

    audio = decode_tokens(lm, codes)
    hop = lm.sample_rate // lm.frame_rate
    assert audio.shape == (2, lm.channels, 100 * hop)
    x = audio[0, 0]
    diff = (x[1:] - x[:-1]).abs()
    rms = x.pow(2).mean().sqrt()
    for join in (50 * hop, 80 * hop):
        around = x[join - hop // 2: join + hop // 2]
        assert around.pow(2).mean().sqrt() > 0.1 * rms  # no gap
        # No click: no sample step at the join beyond what the take's own audio has in 1 of 1000.
        assert diff[join - 8: join + 8].max() <= torch.quantile(diff, 0.999)


class _PeakStorageBytes(TorchDispatchMode):
    """Peak bytes of the storages alive among those given at the start and those that ops
    allocate (outputs of at least `least` bytes on a storage no input has: views and in-place
    writes allocate nothing), sampled at each allocation. Weak references only, so a storage
    counts exactly while the code under test keeps it alive."""

    def __init__(self, tensors, least: int):
        super().__init__()
        self.refs = [weakref.ref(t) for t in tensors]
        self.least = least
        self.peak = self.alive()

    def alive(self) -> int:
        self.refs = [r for r in self.refs if r() is not None]
        storages = {r().untyped_storage().data_ptr(): r().untyped_storage().nbytes() for r in self.refs}
        return sum(storages.values())

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = {a.untyped_storage().data_ptr() for a in pytree.tree_leaves((args, kwargs))
                  if isinstance(a, torch.Tensor)}
        for t in pytree.tree_leaves(out):
            if isinstance(t, torch.Tensor) and t.nbytes >= self.least and t.untyped_storage().data_ptr() not in inputs:
                self.refs.append(weakref.ref(t))
                self.peak = max(self.peak, self.alive())
        return out


def test_a_growing_state_frees_the_old_cache_before_allocating_the_new(lm):
    """A longer window with >32-token prompts needs a bigger state; at no moment are the old
    and the new cache alive together (sized to most of free memory, both would not fit)."""
    loop = FastLoop(lm)
    s = Sampling(top_k=20)
    loop.generate(["calm piano"] * 2, [1, 2], 40, s)
    (old,) = loop._states.values()
    least = old.kc.nbytes  # the caches, not the step's activations
    tensors = [t for t in vars(old).values() if isinstance(t, torch.Tensor)]
    del old
    with _PeakStorageBytes(tensors, least) as peak:
        del tensors
        loop.generate([PROMPTS[1]] * 2, [1, 2], 100, s)
    (new,) = loop._states.values()
    assert new.ck.shape[3] == 64 and new.max_pos > 100  # it did grow, in text and window
    assert peak.peak <= new.nbytes()  # the new state alone (with the old one still held: + its bytes)
    assert loop.held_bytes() == new.nbytes()


def test_fused_weights_are_the_modules_weights_not_a_copy(lm, loop):
    """q/k/v, embeddings and heads are fused into one tensor each, and the modules' own
    parameters became views of it: no second copy (0.7 GB for medium, 1.2 GB for large)."""
    def storages(tensors):
        return {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors}

    params = list(lm.model.decoder.parameters())
    fused = loop.w.qkv + [loop.w.emb, loop.w.heads]
    assert storages(fused).keys() <= storages(params).keys()
    param_bytes = sum(p.nbytes for p in params)
    assert sum(storages(params).values()) == param_bytes  # the views tile their storages exactly
    attn = lm.model.decoder.model.decoder.layers[0].self_attn
    assert loop.w.qkv[0][: attn.q_proj.weight.shape[0]].data_ptr() == attn.q_proj.weight.data_ptr()
    again = FastLoop(lm)  # a second loop on the same model finds the weights fused already
    assert [t.data_ptr() for t in again.w.qkv] == [t.data_ptr() for t in loop.w.qkv]
    assert again.w.heads.data_ptr() == loop.w.heads.data_ptr() and torch.equal(again.w.emb, loop.w.emb)
    assert sum(storages(list(lm.model.decoder.parameters())).values()) == param_bytes


def test_each_state_captures_its_graphs_into_its_own_pool(lm):
    """Replacing a state and capturing again into the freed graphs' pool is a known CUDA
    allocator assertion: every state gets a fresh pool (CPU stand-in graphs record theirs)."""
    s = Sampling(top_k=20)
    graphed = FastLoop(lm, bucket=8, graphs=True)
    graphed.generate(PROMPTS, SEEDS, 20, s)
    (first,) = graphed._states.values()
    pool = first.pool
    assert pool is not None and {g.pool for g in first.graphs.values()} == {pool}
    del first
    graphed.generate(PROMPTS + ["strings"], SEEDS + [7], 20, s)
    (second,) = graphed._states.values()
    assert second.pool is not None and second.pool is not pool
    assert {g.pool for g in second.graphs.values()} == {second.pool} and graphed.use_graphs


def test_allocation_failures_are_out_of_memory_not_a_refused_capture(lm, loop):
    """cuBLAS says CUBLAS_STATUS_ALLOC_FAILED, not "out of memory": still memory, so the
    engine's smaller batch is the answer, not decoding without graphs for the rest of the run."""
    for text in ("CUDA out of memory. Tried to allocate 2.00 GiB",
                 "CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`",
                 "cuDNN error: CUDNN_STATUS_ALLOC_FAILED"):
        assert is_out_of_memory(RuntimeError(text)), text
    assert is_out_of_memory(torch.OutOfMemoryError("x"))
    assert not is_out_of_memory(RuntimeError("operation not permitted when stream is capturing"))
    graphed = FastLoop(lm, bucket=8, graphs=True)

    def no_workspace(st, length, s):
        raise RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`")

    graphed._graph = no_workspace
    with pytest.raises(RuntimeError, match="CUBLAS_STATUS_ALLOC_FAILED"):
        graphed.generate(PROMPTS, SEEDS, FRAMES, Sampling(top_k=20))
    assert graphed.use_graphs and graphed.graphs_off is None


def test_padded_rows_give_the_takes_of_the_unpadded_batch(lm, loop):
    """rows=N computes a batch as N takes (copies of the last one fill it) and returns only
    the real ones: the shape a take is computed in can be fixed whatever the batch holds."""
    s = Sampling(top_k=20)
    want = loop.generate(PROMPTS, SEEDS, FRAMES, s)
    padded = FastLoop(lm)
    got = padded.generate(PROMPTS, SEEDS, FRAMES, s, rows=5)
    assert torch.equal(got, want)
    (st,) = padded._states.values()
    assert st.batch == 5
    windows = Windows(max_frames=30, stride_frames=20)  # the continuation prompt is padded too
    assert torch.equal(generate_long(padded, PROMPTS, SEEDS, 50, s, windows, rows=3),
                       generate_long(loop, PROMPTS, SEEDS, 50, s, windows))
    assert next(iter(padded._states.values())).batch == 3


def test_rowwise_attention_is_attention():
    """rowwise_attention against scaled_dot_product_attention: a causal mask shared by all
    rows, a per-row padding mask (one row fully masked by a large finite negative, as the
    unconditional rows are), several queries."""
    from albumgen.models.fast import per_head, rowwise_attention

    g = torch.Generator().manual_seed(0)
    r, h, t, n, d = 3, 4, 5, 9, 16
    q, k, v = (torch.randn(r, h, m, d, generator=g) for m in (t, n, n))
    causal = torch.zeros(t, n).masked_fill(torch.arange(n)[None, :] > torch.arange(t)[:, None] + 4, float("-inf"))
    padding = torch.zeros(r, 1, 1, n)
    padding[1, ..., 6:] = torch.finfo(torch.float32).min
    padding[2] = torch.finfo(torch.float32).min
    for bias in (causal, padding):
        got = rowwise_attention(q, k, v, per_head(bias, r, h, t, n))
        want = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        assert got.shape == want.shape and torch.allclose(got, want, atol=1e-6)
    with pytest.raises(ValueError, match="attention must be one of"):
        FastLoop(load_musicgen("tiny", "cpu"), attention="flash")


def test_rowwise_attention_gives_the_same_tokens(lm, loop):
    """The row-wise decode attention (no fused SDPA kernel) keeps every token: transformers'
    greedy ones, the reference loop's sampled ones, eager and through the capture path."""
    rowwise = FastLoop(lm, attention="rowwise")
    assert torch.equal(rowwise.generate(PROMPTS, SEEDS, FRAMES, Sampling(greedy=True)), hf_greedy_codes(lm, PROMPTS, FRAMES))
    s = Sampling(top_k=12, top_p=0.9, temperature=0.8, cfg=3.0)
    want = generate_codes(lm, PROMPTS, SEEDS, FRAMES, s)
    assert torch.equal(rowwise.generate(PROMPTS, SEEDS, FRAMES, s), want)
    graphed = FastLoop(lm, bucket=8, graphs=True, attention="rowwise")
    assert torch.equal(graphed.generate(PROMPTS, SEEDS, FRAMES, s), want)
    windows = Windows(max_frames=30, stride_frames=20)  # a continuation prompt's prefill (several queries)
    assert torch.equal(generate_long(rowwise, PROMPTS, SEEDS, 50, s, windows),
                       generate_long(loop, PROMPTS, SEEDS, 50, s, windows))


def test_rowwise_take_tokens_do_not_depend_on_neighbours_text_bucket_or_padding(lm):
    """At a fixed row count a take is the same beside other prompts (one of them past the
    32-token text bucket), beside copies of itself (rows=), and run again."""
    s = Sampling(top_k=20)
    loop = FastLoop(lm, attention="rowwise", bucket=8, graphs=True)
    long = "a very long prompt about a bright synthwave anthem with gated drums and neon pads"
    batch = loop.generate([PROMPTS[0], long, "strings", PROMPTS[1]], [1, 2, 3, 4], FRAMES, s)
    (st,) = loop._states.values()
    assert st.ck.shape[3] > 32
    other = loop.generate([PROMPTS[0], "techno", PROMPTS[1], "folk"], [1, 9, 8, 7], FRAMES, s)
    padded = loop.generate([PROMPTS[0]], [1], FRAMES, s, rows=4)
    again = loop.generate([PROMPTS[0], long, "strings", PROMPTS[1]], [1, 2, 3, 4], FRAMES, s)
    assert torch.equal(other[0], batch[0]) and torch.equal(padded[0], batch[0]) and torch.equal(again, batch)
    assert not torch.equal(batch[0], batch[3])  # the takes differ: the check can fail


def test_rowwise_attention_runs_no_fused_attention_kernel(lm):
    """Which kernels a row-wise step runs: per layer two baddbmm (scores with the mask) and
    two bmm, no scaled_dot_product_attention at all; the masks are laid out once per step."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from ops_per_step import step_ops

    layers = lm.model.config.decoder.num_hidden_layers
    ops = step_ops(FastLoop(lm, graphs=False, attention="rowwise"), 2, Sampling(top_k=20), position=10)
    assert not [op for op in ops if "attention" in op]
    assert ops["baddbmm"] == ops["bmm"] == 2 * layers and ops["_softmax"] == 2 * layers
    sdpa = step_ops(FastLoop(lm, graphs=False), 2, Sampling(top_k=20), position=10)
    assert sum(n for op, n in sdpa.items() if "scaled_dot_product" in op) == 2 * layers and "bmm" not in sdpa
