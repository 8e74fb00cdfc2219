"""bench/render_throughput.py runs on CPU with the tiny model and prints its table."""
from __future__ import annotations

import runpy
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "render_throughput.py"


def test_bench_prints_both_loops_and_the_greedy_check(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [str(BENCH), "--model", "tiny", "--batch", "2", "--steps", "12",
                                      "--check", "12", "--device", "cpu"])
    runpy.run_path(str(BENCH), run_name="__main__")
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("tiny on cpu (") and "float32, 12 steps, CFG 3, top-k 250" in out[0]
    assert out[1] == "greedy tokens, first 9 frames: identical to transformers"
    # The static-cache reference runs only where transformers really uses a static cache for
    # MusicGen and gets the default's greedy tokens; either way the line says which and why.
    static = out[2].startswith("static-cache generate: timed: transformers ")
    assert static or out[2].startswith("static-cache generate: not timed: transformers ")
    assert out[3].split() == ["batch", "loop", "ms/step", "audio", "s/s", "ratio", "floor", "ms", "of", "floor"]
    loops = ["transformers", "tf-static", "albumgen"] if static else ["transformers", "albumgen"]
    assert [line.split()[:2] for line in out[4:]] == [["2", name] for name in loops]
    assert out[-1].split()[4].endswith("x")  # albumgen's ratio to the fastest reference
