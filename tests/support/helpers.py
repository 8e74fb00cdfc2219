"""Helpers for tests: write pipelines, run the real CLI."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]  # the repository

DEMO = {
    "album": {"title": "Test Album", "slug": "test-album", "brief": "tests", "artist": "Tester",
              "genre": "Ambient", "tracks": 2, "seed": 1},
    "output_dir": "albums",
    "prompts": {"source": "builtin"},
    # No tail: these tests are about other things, and a 3 s tail would quadruple 1 s takes.
    "render": {"model": "tiny", "takes": 2, "duration": 1.0, "tail": 0, "device": "cpu"},
    # The tiny model makes noise, which the picker rejects; retry rounds would only add
    # takes and time to tests that are not about them (test_pick_stage turns them on).
    "pick": {"max_rounds": 0},
    "master": {"fade_out": 0.2},
    # CPU units in the build's own process: a pool worker imports and warms the analysis stack
    # (librosa, numba) for seconds at every build, more than a tiny album's pick and master
    # cost. The pool is the subject of tests/e2e (whose builds keep the default, e2e/conftest.py),
    # test_frontier and test_remote, which ask for it by name.
    "executor": {"workers": 0},
}


def merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def write_pipeline(folder: Path, overrides: dict | None = None, name: str = "pipeline.yaml") -> Path:
    """A small real pipeline (tiny model, short takes) with `overrides` merged in."""
    path = Path(folder) / name
    path.write_text(yaml.safe_dump(merge(DEMO, overrides or {}), sort_keys=False), "utf-8")
    return path


def cli(*args: str):
    """The CLI in this process (click's runner): exit code, stdout and stderr to assert on."""
    # Imported here: conftest imports this module for every test, and the model tests run
    # on a GPU machine from the source tree, where the CLI's config schema (pydantic) is absent.
    from click.testing import CliRunner

    from albumgen.cli import main

    return CliRunner().invoke(main, list(args))


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """The real console entry point in a child process."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "albumgen", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def kill_build_when(pipeline: Path, ready, what: str, limit: float = 240, poll: float = 0.05) -> None:
    """Start `albumgen build pipeline` in a real child process and SIGKILL it the moment
    `ready()` holds: a crash with no chance to clean up. Fails if the build ends first or
    `ready()` never holds within `limit` seconds (`what` names it in the failure)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "albumgen", "build", str(pipeline)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + limit
    try:
        while not ready():
            assert proc.poll() is None, f"build finished before {what}"
            assert time.monotonic() < deadline, f"not in time: {what}"
            time.sleep(poll)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL


def album_snapshot(album: Path) -> dict[str, str]:
    """sha256 of every regular file under `album` except the lock (which holds the pid of
    the last build): equal snapshots mean nothing was written, renamed or removed."""
    import hashlib

    return {p.relative_to(album).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(album.rglob("*")) if p.is_file() and p.name != "lock"}


def hf_generate_codes(lm, prompts: list[str], new_tokens: int, **kwargs) -> list:
    """transformers' own generate (greedy, CFG 3) on a loaded MusicGen, and the tokens it
    hands EnCodec, caught on their way: one tensor per decode call (a stereo model decodes
    left and right apart). The reference the fast loop's tests compare with."""
    seen = []
    ae = lm.model.audio_encoder
    original = ae.decode

    def record(codes, *args, **kw):
        seen.append(codes[0])
        return original(codes, *args, **kw)

    ae.decode = record
    try:
        ids, mask = lm.tokenize(prompts)
        lm.model.generate(input_ids=ids, attention_mask=mask, do_sample=False, guidance_scale=3.0,
                          max_new_tokens=new_tokens, **kwargs)
    finally:
        ae.decode = original
    return seen
