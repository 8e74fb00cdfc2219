"""render.device: cuda:N with N >= 1. torch.cuda's calls that take no device act on the
current device (0 unless set): a stream, a capture, a sync or a cache free there, while
the model's kernels run on N, gives empty graphs and replays that do nothing. So every
device-bound torch.cuda call in the engine names its device (or stream), or runs inside
`with torch.cuda.device(...)`; torch.cuda.graph gets its capture stream (its default one is
made once, on whichever device was current first)."""
from __future__ import annotations

import ast
from pathlib import Path

import torch

from albumgen.models.fast import FastLoop
from albumgen.models.musicgen import load_musicgen

ROOT = Path(__file__).resolve().parents[2]
# torch.cuda functions whose effect depends on the device they address.
DEVICE_BOUND = {"synchronize", "empty_cache", "Stream", "current_stream", "mem_get_info", "get_device_name",
                "get_device_properties", "memory_allocated", "max_memory_allocated", "reset_peak_memory_stats",
                "memory_reserved", "is_bf16_supported", "graph", "set_stream", "Event"}


def cuda_calls(tree: ast.AST):
    """(call, function name, inside `with torch.cuda.device(...)`) for every torch.cuda.X(...)."""
    found = []

    def is_cuda_attr(node, name=None):
        return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and \
            node.value.attr == "cuda" and isinstance(node.value.value, ast.Name) and node.value.value.id == "torch" \
            and (name is None or node.attr == name)

    def walk(node, guarded):
        if isinstance(node, ast.With | ast.AsyncWith):
            guarded = guarded or any(isinstance(i.context_expr, ast.Call) and is_cuda_attr(i.context_expr.func, "device")
                                     for i in node.items)
        if isinstance(node, ast.Call) and is_cuda_attr(node.func):
            found.append((node, node.func.attr, guarded))
        for child in ast.iter_child_nodes(node):
            walk(child, guarded)

    walk(tree, False)
    return found


def offending(path: Path, root: Path = ROOT) -> list[str]:
    bad = []
    for call, name, guarded in cuda_calls(ast.parse(path.read_text("utf-8"))):
        if name not in DEVICE_BOUND:
            continue
        keywords = {k.arg for k in call.keywords}
        if name == "graph":
            ok = "stream" in keywords  # and its syncs and cache frees: the caller's torch.cuda.device
        else:
            ok = guarded or bool(call.args) or bool(keywords & {"device", "stream"})
        if not ok:
            bad.append(f"{path.relative_to(root)}:{call.lineno}: torch.cuda.{name}(...) addresses the current device")
    return bad


def test_every_device_bound_cuda_call_names_its_device():
    files = sorted((ROOT / "src").rglob("*.py")) + sorted((ROOT / "stages").rglob("*.py"))
    seen = [name for f in files for _, name, _ in cuda_calls(ast.parse(f.read_text("utf-8")))]
    assert {"Stream", "graph", "synchronize", "empty_cache"} <= set(seen)  # the rule has something to check
    assert [b for f in files for b in offending(f)] == []


def test_the_rule_catches_a_call_on_the_current_device(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\n"
                   "def f(g, pool, dev):\n"
                   "    s = torch.cuda.Stream()\n"
                   "    torch.cuda.synchronize()\n"
                   "    with torch.cuda.graph(g, pool=pool):\n"
                   "        pass\n"
                   "    with torch.cuda.device(dev):\n"
                   "        torch.cuda.empty_cache()\n"
                   "    torch.cuda.synchronize(dev)\n")
    assert [line.split(": ")[1] for line in offending(bad, tmp_path)] == ["torch.cuda.Stream(...) addresses the current device",
                                                      "torch.cuda.synchronize(...) addresses the current device",
                                                      "torch.cuda.graph(...) addresses the current device"]


def test_the_fast_loop_decodes_with_its_own_device_current():
    """generate runs under torch.cuda.device(the loop's device): graph pools, torch.cuda.graph's
    own sync and cache free, and anything else without a device argument address it."""
    loop = FastLoop(load_musicgen("tiny", "cpu"))
    tree = ast.parse((ROOT / "src/albumgen/models/fast.py").read_text("utf-8"))
    gen = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "generate")
    withs = [w for w in ast.walk(gen) if isinstance(w, ast.With)]
    assert any(ast.unparse(i.context_expr) == "self._on_device()" and "self._generate(" in ast.unparse(w)
               for w in withs for i in w.items)
    loop.device = torch.device("cuda", 1)  # only the context is built here: no CUDA needed
    ctx = loop._on_device()
    assert isinstance(ctx, torch.cuda.device) and ctx.idx == 1
