"""On a CUDA machine only: the graph path and the real architectures. Skipped elsewhere."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from albumgen.models.decode import Sampling
from albumgen.models.fast import FastLoop
from albumgen.models.windows import Windows, generate_long

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]
PROMPTS = ["80s pop track with bassy drums and synth", "lofi slow bpm electro chill with organic samples"]


def bench():
    path = Path(__file__).resolve().parents[1] / "bench" / "render_throughput.py"
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
