"""Named mutations: break one thing on purpose in a scratch copy and check a test notices.

    python tools/mutate.py                 # every mutation (make mutate)
    python tools/mutate.py --list          # names, files and the tests each one runs
    python tools/mutate.py seed-slice cfg-formula   # only these
    python tools/mutate.py --area limiter  # one area

Each mutation is a (file, old text, new text) edit. The tree (tracked and untracked files
git does not ignore) is copied once to a scratch folder; each edit is applied there, the
mutation's tests run against that copy (PYTHONPATH puts the copy's albumgen first, child
processes included), and the edit is reverted. A mutation is *killed* when a test fails,
*survived* when every test passes; *stale* when its old text is no longer in the file
(the code moved: update the mutation). The score is killed / (killed + survived).

The mutations target what costs users most when it breaks silently: hashing and seeds,
the manifest, the fast loop's sampling, the picker's checks, the limiter and mastering,
and the promises at the edges (the key, exit codes, resume). Not run in CI: it takes
tens of minutes on a 2-core machine.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Mutation:
    name: str
    area: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]
    why: str = ""


M = Mutation
MUTATIONS = [
    # -- hashing and seeds ---------------------------------------------------------------
    M("seed-slice", "hashing", "src/albumgen/engine/store/hashing.py", "sha256_json(list(parts))[:16]",
      "sha256_json(list(parts))[:15]", ("tests/engine/test_pins.py::test_derive_seed_known_values",),
      "derive_seed gives other seeds: every album changes"),
    M("seed-part-order", "hashing", "stages/render/__init__.py",
      "derive_seed(ctx.config.album.seed, track.id, n)", "derive_seed(ctx.config.album.seed, n, track.id)",
      ("tests/engine/test_pins.py::test_seeds_of_a_fixed_pipeline",), "takes get other seeds"),
    M("json-unsorted", "hashing", "src/albumgen/engine/store/hashing.py", "sort_keys=True, separators",
      "sort_keys=False, separators", ("tests/engine/test_manifest.py::test_canonical_json_ignores_key_order",
                                      "tests/engine/test_pins.py::test_canonical_json_and_unit_key_known_values"),
      "keys depend on dict insertion order"),
    M("json-separators", "hashing", "src/albumgen/engine/store/hashing.py", 'separators=(",", ":")', 'separators=(", ", ": ")',
      ("tests/engine/test_pins.py::test_canonical_json_and_unit_key_known_values",),
      "every unit key changes: every album re-renders"),
    M("key-no-version", "hashing", "src/albumgen/engine/store/hashing.py", '{"stage": stage, "version": version, ',
      '{"stage": stage, ', ("tests/engine/test_manifest.py::test_canonical_json_ignores_key_order",),
      "a stage version bump no longer invalidates old records"),
    M("key-with-dtype", "hashing", "stages/render/config.py",
      'fields = {"model", "duration", "top_k", "top_p", "temperature", "cfg"}',
      'fields = {"model", "duration", "top_k", "top_p", "temperature", "cfg", "dtype", "device"}',
      ("tests/engine/test_claims_engine.py::test_device_dtype_and_batch_size_changes_render_nothing",),
      "a device or dtype change re-renders every take"),
    M("key-prompt-all-tracks", "hashing", "stages/render/__init__.py",
      'inputs={"prompt": sha256_text(track.prompt)',
      'inputs={"prompt": sha256_text(str([t.prompt for t in tracklist.tracks]))',
      ("tests/engine/test_pins.py::test_unit_keys_of_a_fixed_pipeline",), "one edited prompt re-renders every track"),
    # -- the manifest --------------------------------------------------------------------
    M("done-ignores-key", "manifest", "src/albumgen/engine/store/manifest.py", "rec is not None and rec.key == key and",
      "rec is not None and", ("tests/engine/test_manifest.py",), "a changed config reuses stale outputs"),
    M("done-skips-hash", "manifest", "src/albumgen/engine/store/manifest.py",
      "st.st_mtime_ns != ref.mtime_ns and sha256_file(path) != ref.sha256",
      "st.st_mtime_ns != ref.mtime_ns and False", ("tests/engine/test_manifest.py",),
      "a changed output with the same size is taken as done"),
    M("done-skips-size", "manifest", "src/albumgen/engine/store/manifest.py",
      "            if st.st_size != ref.size:\n                return False\n", "",
      ("tests/engine/test_manifest.py",), "a truncated output whose mtime was kept is taken as done"),
    M("schema-unchecked", "manifest", "src/albumgen/engine/store/records.py",
      "if isinstance(version, int) and version not in READABLE and version > SCHEMA_VERSION:", "if False:", ("tests/engine/test_manifest.py",), "a future manifest is read as if it were this version's"),
    M("event-torn-line", "manifest", "src/albumgen/engine/store/records.py", 'line = "\\n" + line', "pass",
      ("tests/engine/test_manifest.py::test_events_skip_a_torn_last_line",), "a torn event line eats the next event"),
    M("lock-no-pid", "manifest", "src/albumgen/engine/store/manifest.py", "os.write(fd, str(os.getpid()).encode())",
      'os.write(fd, b"")', ("tests/engine/test_manifest.py",), "the busy message cannot name the holder"),
    M("commit-at-stage-end", "manifest", "src/albumgen/engine/runner.py", "for done in stage.run(ctx, pending):",
      "for done in list(stage.run(ctx, pending)):", ("tests/e2e/test_resume_stages.py",),
      "a crash mid-stage loses every finished unit of that stage"),
    M("atomic-in-place", "manifest", "src/albumgen/engine/store/atomic.py", "os.replace(tmp, path)", "os.replace(tmp, path); path.write_bytes(b'')",
      ("tests/engine/test_manifest.py",), "an atomic write leaves an empty file"),
    # -- the fast loop's sampling ---------------------------------------------------------
    M("cfg-formula", "sampling", "src/albumgen/models/fast.py", "logits = uncond + (cond - uncond) * s.cfg",
      "logits = cond", ("tests/models/test_models_text.py",), "classifier-free guidance is off"),
    M("cfg-uncond-text", "sampling", "src/albumgen/models/musicgen.py",
      "h = torch.cat([h, torch.zeros_like(h)], dim=0)\n        mask = torch.cat([mask, torch.zeros_like(mask)], dim=0)",
      "h = torch.cat([h, h], dim=0)\n        mask = torch.cat([mask, mask], dim=0)",
      ("tests/models/test_models_text.py",), "the unconditional rows see the prompt: guidance does nothing"),
    M("text-mask-off", "sampling", "src/albumgen/models/fast.py", "((1 - mask.to(st.enc_bias.dtype))",
      "((0 * mask.to(st.enc_bias.dtype))", ("tests/models/test_models_text.py",),
      "cross-attention reads padded text: a take depends on its batch"),
    M("text-mask-off-layout", "sampling", "src/albumgen/models/fast.py", "((1 - mask.to(st.enc_bias.dtype))",
      "((0 * mask.to(st.enc_bias.dtype))",
      ("tests/models/test_models_text.py::test_a_short_prompt_renders_the_same_alone_and_beside_a_longer_one",),
      "the same break, caught by the batch-layout claim's own test"),
    M("text-zeroed", "sampling", "src/albumgen/models/musicgen.py", "h = h * mask[..., None].to(h.dtype)",
      "h = h * 0", ("tests/models/test_models_text.py",), "the prompt is ignored"),
    M("noise-window-offset", "sampling", "src/albumgen/models/fast.py", "noise.gumbel(st.keys, st.offset + q, self.counters)",
      "noise.gumbel(st.keys, q, self.counters)", ("tests/engine/test_pins.py::test_tokens_of_a_windowed_tiny_take",),
      "every continuation window replays the first window's noise"),
    M("noise-mixer", "sampling", "src/albumgen/models/noise.py", "_C1, _C2 = 0x7FEB352D, 0x846CA68B",
      "_C1, _C2 = 0x7FEB352D, 0x846CA68D", ("tests/engine/test_pins.py::test_tokens_of_a_fixed_tiny_take",),
      "every take's tokens change for the same seed"),
    M("top-k-off-by-one", "sampling", "src/albumgen/models/sampling.py", "logits.masked_fill(logits < kth,",
      "logits.masked_fill(logits <= kth,", ("tests/engine/test_pins.py::test_tokens_of_a_fixed_tiny_take",),
      "top_k keeps k-1 tokens"),
    M("temperature-inverted", "sampling", "src/albumgen/models/sampling.py", "logits = logits / s.temperature",
      "logits = logits * s.temperature", ("tests/engine/test_pins.py::test_tokens_of_a_fixed_tiny_take",),
      "temperature sharpens where it should flatten"),
    M("top-p-inverted", "sampling", "src/albumgen/models/sampling.py", "remove_sorted = cum <= (1 - s.top_p)",
      "remove_sorted = cum <= s.top_p", ("tests/engine/test_pins.py::test_tokens_of_a_fixed_tiny_take",),
      "top_p keeps the wrong share"),
    M("delay-pattern", "sampling", "src/albumgen/models/fast.py", "return [k // 2 if channels == 2 else k for k",
      "return [k // 2 if channels == 1 else k for k", ("tests/models/test_models_text.py",),
      "codebooks are delayed wrongly: tokens no longer match transformers"),
    M("prefill-positions", "sampling", "src/albumgen/models/fast.py", "q = torch.arange(known, device=self.device)",
      "q = torch.arange(1, known + 1, device=self.device)", ("tests/models/test_models_text.py",),
      "a continuation window's prompt is read at the wrong positions"),
    M("oom-mps-unrecognised", "sampling", "src/albumgen/models/fast.py", 'or "out of memory" in text.lower() or',
      "or False or", ("tests/stages/render/test_render_oom.py",), "an MPS out-of-memory stops the build instead of halving"),
    M("oom-halving", "sampling", "stages/render/engine.py", "batch = len(group) // 2", "batch = len(group) - 1",
      ("tests/stages/render/test_render_oom.py",), "out of memory shrinks the batch one take at a time"),
    # -- the picker's checks -------------------------------------------------------------
    M("silence-tail-off", "picker", "stages/pick/combine.py",
      'elif f["trailing_silence"] > cfg.max_trailing_silence:', "elif False:",
      ("tests/stages/pick/test_pick_branches.py",), "a take that ends in seconds of silence is kept"),
    M("noise-tonal-off", "picker", "stages/pick/combine.py",
      'f["flatness_db"] > cfg.max_flatness_db or f["tonal_share"] < cfg.min_tonal_share',
      'f["flatness_db"] > cfg.max_flatness_db', ("tests/stages/pick/test_pick_branches.py",),
      "coloured noise with no tones passes as music"),
    # (ok = [] alone is an equivalent mutant: the ranking key counts rejects first anyway.)
    M("choose-ignores-rejects", "picker", "stages/pick/combine.py",
      'key=lambda i: (len(scored[i]["rejects"]), -scored[i]["score"], i)', 'key=lambda i: (-scored[i]["score"], i)',
      ("tests/stages/pick/test_pick_detectors.py", "tests/stages/pick/test_pick_branches.py"), "a rejected take can win"),
    M("z-direction", "picker", "stages/pick/combine.py", "z[name] = direction * robust_z(",
      "z[name] = -direction * robust_z(", ("tests/stages/pick/test_pick_detectors.py", "tests/stages/pick/test_pick_branches.py"),
      "the worst take scores best"),
    M("pick-key-no-learned", "picker", "stages/pick/__init__.py",
      'config = {**cfg.model_dump(), "learned": {k: v is None for k, v in availability(cfg, ctx.base_dir).items()}}',
      "config = {**cfg.model_dump()}", ("tests/engine/test_claims_engine.py::test_weights_that_arrive_later_rescore",),
      "CLAP weights downloaded later never rescore"),
    M("clap-prompt-ignored", "picker", "stages/pick/learned.py", "tok = processor(text=[prompt],",
      'tok = processor(text=[""],', ("tests/stages/pick/test_pick_clap.py",), "CLAP scores every take against an empty prompt"),
    M("clap-not-scored", "picker", "stages/pick/combine.py", '    "clap": (+1, 0.02),\n', "",
      ("tests/stages/pick/test_pick_clap.py",), "CLAP is measured but never moves a score"),
    # -- limiter and mastering -------------------------------------------------------------
    M("limiter-no-lookahead", "limiter", "stages/master/limiter.py",
      "held = np.concatenate([centred[half:], np.full(half, centred[-1])])", "held = centred",
      ("tests/stages/master/test_master_dsp.py",), "the gain falls late: peaks pass the ceiling"),
    M("limiter-no-gain", "limiter", "stages/master/limiter.py", "att = gain_curve_db(envelope, sr, ceiling_db - gain_db)",
      "att = gain_curve_db(envelope, sr, ceiling_db)", ("tests/stages/master/test_master_dsp.py", "tests/stages/master/test_claims_master.py"),
      "the limiter ignores the gain it applies"),
    M("limiter-release", "limiter", "stages/master/limiter.py", "released = np.maximum.accumulate(held + ramp) - ramp",
      "released = held", ("tests/stages/master/test_master_dsp.py", "tests/stages/master/test_claims_master.py::test_the_limiter_releases_at_40_db_per_second"),
      "no release: the gain jumps back after each peak"),
    M("extra-gain-uncapped", "limiter", "stages/master/track.py",
      "gain_db = min(gain_db + step, first + MAX_EXTRA_GAIN)", "gain_db = gain_db + step",
      ("tests/stages/master/test_claims_master.py::test_extra_gain_stops_at_12_db_with_a_warning",),
      "a peaky track is squashed flat"),
    M("extra-gain-silent", "limiter", "stages/master/track.py", "lufs < target - 0.5:", "lufs < target - 99:",
      ("tests/stages/master/test_claims_master.py::test_extra_gain_stops_at_12_db_with_a_warning",),
      "a track left under the target says nothing"),
    M("no-re-encode", "limiter", "stages/master/track.py", "        if excess <= 0:\n            break",
      "        if True:\n            break", ("tests/stages/master/test_claims_master.py::test_an_encoder_over_is_encoded_again",),
      "an MP3 whose encoder pushed a peak over the ceiling ships as is"),
    M("album-mode-no-analysis-input", "limiter", "stages/master/__init__.py", 'inputs["analysis"] = analysis.key',
      "pass", ("tests/stages/master/test_claims_master.py::test_album_mode_a_changed_take_remasters_every_track",),
      "album mode keeps the other tracks at the old album gain"),
    # -- edges: key, exit codes, ffmpeg, models ------------------------------------------
    M("key-in-rewrite-file", "edges", "stages/prompts/sources.py",
      '_store(path, {"kind": "rewrite", "request": request,',
      '_store(path, {"kind": "rewrite", "auth": llm._key, "request": request,',
      ("tests/stages/prompts/test_prompts_llm.py::test_rewrite_pass_keeps_intent_and_falls_back_per_prompt",),
      "the API key lands in manifest/prompts/rewrite-<hash>.json"),
    M("key-in-retry-log", "edges", "stages/prompts/llm.py", 'self.log.warning("%s; retrying in %.2g s',
      'self.log.warning(self._key + "%s; retrying in %.2g s',
      ("tests/stages/prompts/test_prompts_llm.py::test_500s_are_retried_then_reported",), "the key is logged on a retry"),
    M("key-in-temp-file", "edges", "stages/prompts/llm.py", "        self.calls = 0\n",
      "        self.calls = 0\n        import tempfile; tempfile.NamedTemporaryFile('w', delete=False).write(self._key)\n",
      ("tests/stages/prompts/test_prompts_llm.py::test_404_unknown_model",), "the key is left in a temporary file"),
    M("transport-in-llm-key", "edges", "stages/prompts/config.py", '"structured": self.structured}',
      '"structured": self.structured, "attempts": self.max_attempts}',
      ("tests/stages/prompts/test_prompts_llm.py::test_a_changed_key_attempt_count_or_backoff_makes_no_call",),
      "raising max_attempts pays for the LLM again"),
    M("exit-70", "edges", "src/albumgen/cli/__init__.py", "ctx.exit(70)", "ctx.exit(1)",
      ("tests/engine/test_claims_engine.py::test_a_bug_exits_70_with_one_line_and_the_traceback_only_with_verbose",),
      "a bug exits like a generic failure"),
    M("exit-130", "edges", "src/albumgen/cli/__init__.py",
      'click.echo(f"Interrupted: {e}", err=True)\n            ctx.exit(130)',
      'click.echo(f"Interrupted: {e}", err=True)\n            ctx.exit(1)',
      ("tests/engine/test_claims_engine.py::test_ctrl_c_exits_130_and_the_build_resumes",),
      "Ctrl-C exits like a generic failure"),
    M("ffmpeg-ignores-path", "edges", "src/albumgen/audio/ffmpeg.py", 'found = shutil.which("ffmpeg")', "found = None",
      ("tests/engine/test_claims_engine.py::test_ffmpeg_from_path_first_else_the_imageio_wheel",),
      "the system's ffmpeg is never used"),
    M("ffmpeg-no-fallback", "edges", "src/albumgen/audio/ffmpeg.py", "return imageio_ffmpeg.get_ffmpeg_exe()",
      'return "ffmpeg"', ("tests/engine/test_claims_engine.py::test_ffmpeg_from_path_first_else_the_imageio_wheel",),
      "no ffmpeg on PATH: nothing encodes"),
    M("melody-accepted", "edges", "stages/render/engine.py", 'if "melody" in type(lm.model).__name__.lower():',
      "if False:", ("tests/engine/test_claims_engine.py::test_a_melody_checkpoint_is_refused_with_a_clear_error",),
      "a melody checkpoint renders garbage instead of a clear error"),
]


def tree_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                         capture_output=True).stdout.decode()
    return [f for f in out.split("\0") if f and (ROOT / f).is_file()]


def scratch_copy() -> Path:
    dest = Path(tempfile.mkdtemp(prefix="albumgen-mutate-"))
    for rel in tree_files():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, dest / rel)
    # albumgen.stages lives in stages/ (package-dir): a link makes the copy importable as is.
    link = dest / "src" / "albumgen" / "stages"
    if not link.exists():
        link.symlink_to(Path("..", "..", "stages"), target_is_directory=True)
    return dest


def environment(scratch: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(scratch / "src"), str(scratch / "tests"), env.get("PYTHONPATH", "")])
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # an edit within one second must never meet a stale .pyc
    env["HF_HUB_OFFLINE"] = "1"
    return env


def check_imports(scratch: Path, env: dict[str, str]) -> None:
    code = "import albumgen, albumgen.stages.render as r; print(albumgen.__file__); print(r.__file__)"
    out = subprocess.run([sys.executable, "-c", code], cwd=scratch, env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    for path in out:
        if not Path(path).resolve().is_relative_to(scratch.resolve()):
            sys.exit(f"mutate: albumgen is imported from {path}, not from the scratch copy {scratch}")


def run_tests(scratch: Path, env: dict[str, str], tests: tuple[str, ...], timeout: float) -> tuple[str, str, float]:
    t0 = time.monotonic()
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--no-header", *tests]
    try:
        r = subprocess.run(cmd, cwd=scratch, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", "", time.monotonic() - t0
    seconds = time.monotonic() - t0
    failed = [line.split(" ", 1)[1].split(" - ")[0] for line in r.stdout.splitlines()
              if line.startswith(("FAILED ", "ERROR "))]
    if r.returncode == 0:
        return "passed", "", seconds
    if r.returncode == 1 and failed:
        why = next((line[1:].strip() for line in r.stdout.splitlines() if line.startswith("E ")), "")
        return "failed", f"{failed[0]} ({why[:160]})" if why else failed[0], seconds
    tail = (r.stdout + r.stderr).strip().splitlines()[-3:]
    return f"error (pytest exit {r.returncode})", " | ".join(tail), seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="mutations to run (default: all)")
    ap.add_argument("--area", help="only this area: " + ", ".join(sorted({m.area for m in MUTATIONS})))
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--check", action="store_true", help="only say which mutations still apply (no tests run)")
    ap.add_argument("--no-baseline", action="store_true", help="skip running the tests unmutated first")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per mutation's tests")
    args = ap.parse_args()
    chosen = [m for m in MUTATIONS if (not args.names or m.name in args.names) and (not args.area or m.area == args.area)]
    unknown = set(args.names) - {m.name for m in MUTATIONS}
    if unknown:
        sys.exit(f"mutate: unknown mutation(s): {', '.join(sorted(unknown))} (see --list)")
    if args.list:
        for m in chosen:
            print(f"{m.name:30} {m.area:9} {m.file}\n{'':30} {m.why}\n{'':30} tests: {' '.join(m.tests)}")
        return 0
    if args.check:
        stale = 0
        for m in chosen:
            count = (ROOT / m.file).read_text("utf-8").count(m.old) if (ROOT / m.file).is_file() else 0
            stale += count != 1
            print(f"{m.name:30} {'applies' if count == 1 else 'stale' if count == 0 else f'{count} matches'}")
        return 1 if stale else 0
    scratch = scratch_copy()
    env = environment(scratch)
    try:
        check_imports(scratch, env)
        if not args.no_baseline:
            tests = tuple(dict.fromkeys(t for m in chosen for t in m.tests))
            outcome, detail, secs = run_tests(scratch, env, tests, args.timeout * 2)
            print(f"baseline (unmutated): {outcome} in {secs:.0f} s {detail}", flush=True)
            if outcome != "passed":
                print("mutate: the tests fail without any mutation; fix them first", file=sys.stderr)
                return 2
        rows = []
        for m in chosen:
            path = scratch / m.file
            original = path.read_text("utf-8")
            count = original.count(m.old)
            if count != 1:
                rows.append((m, "stale" if count == 0 else f"ambiguous ({count} matches)", "", 0.0))
                print(f"{m.name:30} {rows[-1][1]}", flush=True)
                continue
            path.write_text(original.replace(m.old, m.new), "utf-8")
            try:
                outcome, detail, secs = run_tests(scratch, env, m.tests, args.timeout)
            finally:
                path.write_text(original, "utf-8")
            verdict = {"failed": "killed", "timeout": "killed (timeout)", "passed": "SURVIVED"}.get(outcome, outcome)
            rows.append((m, verdict, detail, secs))
            print(f"{m.name:30} {verdict:16} {secs:5.0f} s  {detail}", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    killed = sum(r[1].startswith("killed") for r in rows)
    survived = sum(r[1] == "SURVIVED" for r in rows)
    other = len(rows) - killed - survived
    print("\n| mutation | area | result | test that failed |\n|---|---|---|---|")
    for m, verdict, detail, _ in rows:
        print(f"| {m.name} | {m.area} | {verdict} | {detail if verdict.startswith('killed') else ''} |")
    score = killed / (killed + survived) if killed + survived else 0.0
    print(f"\nmutation score: {killed}/{killed + survived} killed ({score:.0%}); {other} stale or errors")
    return 0 if survived == 0 and other == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
