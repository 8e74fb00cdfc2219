"""On a CUDA machine only: the graph path and the real architectures. Skipped elsewhere."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from albumgen.models.fast import FastLoop
from albumgen.models.sampling import Sampling
from albumgen.models.windows import Windows, generate_long

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]
PROMPTS = ["80s pop track with bassy drums and synth", "lofi slow bpm electro chill with organic samples"]


def bench():
    path = Path(__file__).resolve().parents[2] / "bench" / "render_throughput.py"
    spec = importlib.util.spec_from_file_location("render_throughput", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def small():
    return bench().load("small", "cuda", torch.float32)  # fp32: greedy ties are rarer than in bf16


def test_graphs_give_the_eager_tokens_on_cuda(small):
    s = Sampling(top_k=250)
    eager = FastLoop(small, graphs=False).generate(PROMPTS, [1, 2], 300, s)
    graphed = FastLoop(small)
    assert graphed.use_graphs
    assert torch.equal(graphed.generate(PROMPTS, [1, 2], 300, s), eager)
    assert torch.equal(graphed.generate(PROMPTS, [1, 2], 300, s), eager)  # replayed graphs, new batch
    windows = Windows(max_frames=200, stride_frames=120)  # prefill of a prompt on CUDA, then graphs
    long_eager = generate_long(FastLoop(small, graphs=False), PROMPTS, [1, 2], 420, s, windows)
    assert torch.equal(generate_long(graphed, PROMPTS, [1, 2], 420, s, windows), long_eager)


def test_greedy_equals_transformers_for_100_steps_on_small(small):
    module = bench()
    _, want = module.time_transformers(small, PROMPTS, 100, greedy=True)
    _, got = module.time_albumgen(FastLoop(small), PROMPTS, 100, greedy=True)
    assert torch.equal(got, want.to(got.device))


@pytest.fixture(scope="module")
def small_bf16():
    return bench().load("small", "cuda", torch.bfloat16)  # what a render uses on a GPU


def test_a_take_does_not_change_with_its_neighbours_at_a_fixed_row_count_on_cuda(small_bf16):
    """What a set render.batch_size promises (docs/configuration.md, render): at the same row count a
    take's tokens do not depend on what the other rows hold, nor on its own text bucket."""
    s = Sampling()
    loop = FastLoop(small_bf16)
    long = "a slow ambient piece with warm analog pads, distant choir, soft rain and a felt piano line"
    batch = loop.generate([PROMPTS[0], long, PROMPTS[1], "jazz trio"], [1, 2, 3, 4], 200, s)
    other = loop.generate([PROMPTS[0], "string quartet", "techno", "folk"], [1, 9, 8, 7], 200, s)
    padded = loop.generate([PROMPTS[0]], [1], 200, s, rows=4)
    assert torch.equal(other[0], batch[0])
    assert torch.equal(padded[0], batch[0])


def test_a_growing_state_never_holds_two_caches_on_cuda(small_bf16):
    """Short prompts, then >32-token ones: the state grows (text 32 -> 64+). The peak rise
    above what was allocated (the old state included) stays below the new state's size."""
    s = Sampling()
    loop = FastLoop(small_bf16)
    loop.generate(["jazz trio"] * 8, list(range(8)), 300, s)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    loop.generate([PROMPTS[1] * 2] * 8, list(range(8)), 300, s)
    torch.cuda.synchronize()
    (st,) = loop._states.values()
    assert st.ck.shape[3] > 32
    assert torch.cuda.max_memory_allocated() - base < st.nbytes()


def test_graphs_stay_on_across_batch_sizes_with_a_pool_per_state_on_cuda(small_bf16):
    """8 -> 3 -> 8 on one loop: each change replaces the state and captures again into a
    fresh pool; graphs stay on and the tokens are the eager loop's."""
    s = Sampling()
    loop, eager = FastLoop(small_bf16), FastLoop(small_bf16, graphs=False)
    pools = []
    for b in (8, 3, 8):
        prompts = [PROMPTS[i % 2] for i in range(b)]
        got = loop.generate(prompts, list(range(b)), 150, s)
        assert torch.equal(got, eager.generate(prompts, list(range(b)), 150, s))
        (st,) = loop._states.values()
        pools.append(st.pool)
        assert loop.use_graphs and loop.graphs_off is None and st.graphs
    assert len({repr(p) for p in pools}) == 3  # graph_pool_handle() ids, one per state


def test_melody_graphs_give_the_eager_tokens_on_cuda(melody):
    """The melody prefix (test_melody_render.py on CPU) through captured CUDA graphs: the
    eager tokens, and graphs replayed on a batch with other melodies."""
    from melody_fixtures import A, C

    s = Sampling(top_k=20)
    graphed = FastLoop(melody)
    assert graphed.use_graphs
    for melodies in ([A, C], [C, None]):  # the second replays the first's graphs on new inputs
        eager = FastLoop(melody, graphs=False).generate(PROMPTS, [1, 2], 200, s, melodies=melodies)
        assert torch.equal(graphed.generate(PROMPTS, [1, 2], 200, s, melodies=melodies), eager)
    assert graphed.graphs_off is None


def test_melody_greedy_equals_generate_s_on_cuda(melody):
    """fp32 greedy through graphs against transformers' generate, where that generate hears
    the melody (some 5.x releases drop it: transformers #45647)."""
    from melody_fixtures import A, hf_greedy_codes

    if torch.equal(hf_greedy_codes(melody, PROMPTS[0], A, 20), hf_greedy_codes(melody, PROMPTS[0], None, 20)):
        pytest.skip("this transformers' MusicgenMelody.generate ignores the melody (transformers #45647)")
    got = FastLoop(melody).generate(PROMPTS[:1], [1], 100, Sampling(greedy=True), melodies=[A])
    assert torch.equal(got[0], hf_greedy_codes(melody, PROMPTS[0], A, 100))


@pytest.fixture(scope="module")
def melody():
    from albumgen.models.musicgen import load_musicgen

    return load_musicgen("tiny-melody", "cuda", "float32")


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices")
def test_a_loop_on_the_second_device_captures_and_replays_there():
    """render.device: cuda:1 while device 0 is current: the graphs are captured on cuda:1's
    stream (not empty ones on device 0), so replays give the eager tokens."""
    lm = bench().load("small", "cuda:1", torch.float32)
    torch.cuda.set_device(0)
    s = Sampling(top_k=250)
    eager = FastLoop(lm, graphs=False).generate(PROMPTS, [1, 2], 150, s)
    graphed = FastLoop(lm)
    assert torch.equal(graphed.generate(PROMPTS, [1, 2], 150, s), eager)
    assert graphed.use_graphs and graphed.graphs_off is None and eager.device == torch.device("cuda", 1)


def test_a_rowwise_take_at_8_rows_in_bf16_is_the_same_beside_anyone_again_and_without_graphs_on_cuda(small_bf16):
    """The row-wise decode attention, 300 frames at a fixed row count of 8 in bf16 (where, with
    SDPA's fused kernel, a take was seen to depend on its neighbours after ~130 frames): a take
    beside other prompts, beside copies of itself, the batch run again and run without graphs
    give the same tokens. (bench/gpu_check.py measures both attentions side by side.)"""
    attention = "rowwise"
    s = Sampling()
    long = "a slow ambient piece with warm analog pads, distant choir, soft rain and a felt piano line"
    prompts = [PROMPTS[i % 2] + f" {i}" for i in range(7)] + [long]
    seeds = list(range(100, 108))
    loop = FastLoop(small_bf16, attention=attention)
    batch = loop.generate(prompts, seeds, 300, s)
    moved = loop.generate(prompts[:1] + ["techno", "folk", "jazz trio"] * 2 + ["strings"], [100] + list(range(7)), 300, s)
    padded = loop.generate(prompts[:1], seeds[:1], 300, s, rows=8)
    assert torch.equal(moved[0], batch[0]) and torch.equal(padded[0], batch[0])
    assert torch.equal(loop.generate(prompts, seeds, 300, s), batch)
    assert torch.equal(FastLoop(small_bf16, graphs=False, attention=attention).generate(prompts, seeds, 300, s), batch)
