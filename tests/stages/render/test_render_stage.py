"""The render stage end to end on the tiny model: records, saved tokens, batches, OOM, windows."""
from __future__ import annotations

import io
import logging

import numpy as np
import pytest
import torch
from render_album import build, takes

from albumgen.engine.store.manifest import Manifest
from albumgen.errors import ConfigError
from albumgen.models.musicgen import decode_tokens, load_musicgen
from albumgen.stages.render import engine
from albumgen.stages.render.progress import Progress

TAKES = [f"t0{t}/take-{n}" for t in (1, 2) for n in (1, 2)]


@pytest.fixture(scope="module")
def batched(tmp_path_factory):
    """Four takes of two tracks in one batch of four."""
    return takes(build(tmp_path_factory.mktemp("batched"), {"batch_size": 4}))


def test_takes_record_model_revision_seed_and_sampling(batched):
    assert sorted(batched) == TAKES
    codes, audio, rec = batched["t01/take-2"]
    assert codes.shape == (4, 50) and codes.dtype == np.int16
    assert audio.shape == (50 * 640, 1)
    assert rec["model"] == "tiny" and rec["revision"] == "random" and rec["batch"] == 4
    assert rec["sampling"] == {"top_k": 250, "top_p": 0.0, "temperature": 1.0, "cfg": 3.0}
    assert (rec["frames"], rec["sample_rate"], rec["channels"], rec["dtype"]) == (50, 32000, 1, "float32")
    seeds = {r["seed"] for _, _, r in batched.values()}
    assert len(seeds) == 4  # every take its own seed ...
    assert len({c.tobytes() for c, _, _ in batched.values()}) == 4  # ... and its own tokens


def test_decoding_saved_tokens_gives_the_take_audio(batched):
    lm = load_musicgen("tiny", "cpu")
    for codes, audio, _ in batched.values():
        again = decode_tokens(lm, torch.from_numpy(codes.astype(np.int64))[None])[0].numpy().T
        assert np.array_equal(again, audio)


def test_oom_halves_the_batch_and_takes_do_not_depend_on_it(tmp_path, monkeypatch, batched):
    """Only one take fits: batch 4 -> 2 -> 1, logged, and every take as in one batch of 4."""
    real = engine.generate_takes
    tried = []

    def small_gpu(loop, prompts, *args, **kwargs):
        tried.append(len(prompts))
        if len(prompts) > 1:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(loop, prompts, *args, **kwargs)

    monkeypatch.setattr(engine, "generate_takes", small_gpu)
    album = build(tmp_path, {"batch_size": 4})
    assert tried == [4, 2, 1, 1, 1, 1]
    ooms = [(e["failed_batch"], e["batch_size"]) for e in Manifest(album).events() if e["event"] == "render_oom"]
    assert ooms == [(4, 2), (2, 1)]
    alone = takes(album)
    assert sorted(alone) == TAKES
    for unit, (codes, audio, rec) in alone.items():
        assert rec["batch"] == 1
        assert np.array_equal(codes, batched[unit][0]), unit
        assert np.array_equal(audio, batched[unit][1]), unit


def test_oom_with_one_take_is_a_clear_error(tmp_path, monkeypatch):
    def no_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

    monkeypatch.setattr(engine, "generate_takes", no_memory)
    with pytest.raises(Exception) as e:
        build(tmp_path, {"batch_size": 1})
    assert str(e.value) == ("render: out of memory with one take of tiny on cpu (lower render.max_window, "
                            "set render.dtype to float16, or use a smaller model)")


def test_stereo_takes_have_two_channels(tmp_path):
    album = build(tmp_path, {"model": "tiny-stereo", "takes": 1, "duration": 0.5})
    got = takes(album)
    codes, audio, rec = got["t01/take-1"]
    assert codes.shape == (8, 25) and audio.shape == (25 * 640, 2) and rec["channels"] == 2
    assert rec["joins"] == []  # one window: nothing to join
    assert not np.array_equal(audio[:, 0], audio[:, 1])
    lm = load_musicgen("tiny-stereo", "cpu")
    again = decode_tokens(lm, torch.from_numpy(codes.astype(np.int64))[None])[0].numpy().T
    assert np.array_equal(again, audio)


def test_long_takes_continue_window_after_window(tmp_path, caplog):
    """1.6 s takes with 1 s windows: frames 0-49, then 30-79 continuing, then 60-79."""
    caplog.set_level(logging.INFO, logger="albumgen")
    album = build(tmp_path, {"takes": 1, "duration": 1.6, "max_window": 1.0, "extend_stride": 0.6})
    got = takes(album)
    codes, audio, rec = got["t02/take-1"]
    assert codes.shape == (4, 80) and audio.shape == (80 * 640, 1) and rec["frames"] == 80
    # Where the second window's new frames begin (frame 50 at 50 Hz): pick seeks seams there.
    assert rec["joins"] == [1.0]
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("render: ")]
    assert lines[-1].startswith("render: 2/2 takes, ") and lines[-1].endswith("ETA 0:00:00")


def test_a_checkpoint_folder_beside_the_pipeline_renders(tmp_path):
    from albumgen.models.tiny import build_tiny, byte_tokenizer

    build_tiny().save_pretrained(tmp_path / "ckpt")
    byte_tokenizer().save_pretrained(tmp_path / "ckpt")
    album = build(tmp_path, {"model": "ckpt", "takes": 1, "duration": 0.2})
    rec = takes(album)["t01/take-1"][2]
    assert rec["model"] == str((tmp_path / "ckpt").resolve()) and rec["revision"].startswith("folder:")


def test_window_settings_are_checked():
    from albumgen.config import parse_config

    with pytest.raises(ConfigError) as e:
        parse_config({"render": {"max_window": 10, "extend_stride": 10}})
    assert str(e.value).startswith("render: extend_stride must be less than max_window")
    with pytest.raises(ConfigError, match=r"render.max_window: must be <= 30"):
        parse_config({"render": {"max_window": 40}})


def test_progress_line_on_a_terminal_and_in_a_log(caplog):
    """Album-wide: takes recorded before the build count as done (not in the rate), the batch
    in flight shows before it ends, and without a live block one plain line per batch."""
    from albumgen import console

    now = [100.0]
    clock = lambda: now[0]  # noqa: E731
    caplog.set_level(logging.INFO, logger="albumgen")
    tty = FakeTerminal()
    with console.live(stream=tty):
        p = Progress(2, 10.0, tty=True, log=logging.getLogger("albumgen"), every=0, clock=clock, done=2)
        p.add(4, 10.0)  # this build's takes join the album's two recorded ones
        p.batch_started(2)
        now[0] = 110.0
        p.batch_step(2, 0.5)  # one take's worth of audio (10 s) in 10 s
        assert console._lines["render"] == "render: 2/6 takes, batch of 2 at 50%, 1.00 audio s/s, ETA 0:00:30"
        now[0] = 120.0
        p.takes_done(2)
        assert console._lines["render"] == "render: 4/6 takes, 1.00 audio s/s, ETA 0:00:20"
        logging.getLogger("albumgen").info("pick: t01 take 2")
    assert [r.getMessage() for r in caplog.records] == ["pick: t01 take 2"]  # progress is not a log line
    assert "render: 4/6 takes" in tty.getvalue()
    caplog.clear()
    plain = Progress(3, 30.0, tty=False, log=logging.getLogger("albumgen"), every=0, clock=clock)
    plain.batch_started(1)
    now[0] = 160.0
    plain.batch_step(1, 0.5)
    assert caplog.records == []  # a log file gets no line until a batch ends
    plain.takes_done(1)
    assert [r.getMessage() for r in caplog.records] == ["render: 1/3 takes, 0.75 audio s/s, ETA 0:01:20"]


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_batch_size_on_cpu_is_capped_by_the_pending_takes():
    from albumgen.models.fast import FastLoop

    loop = FastLoop(load_musicgen("tiny", "cpu"))
    assert engine.auto_batch_size(loop, 1500, True, 3) == 3
    assert engine.auto_batch_size(loop, 1500, True, 100) == engine.CPU_BATCH
    # 2 rows (CFG) x 2 (K and V) x 2 layers x 32 dims x 4 bytes per position, and one bucket
    # (64 positions on CPU) of float32 noise over 4 codebooks x 64 tokens.
    assert loop.kv_bytes_per_take(1500, text_len=64) == 2 * 2 * 2 * 32 * 4 * (1500 + 4 + 1 + 64) + 64 * 4 * 64 * 4
    # musicgen-medium in bf16, 30 s windows: 48 layers x 1536 dims -> 0.93 GB per take.
    medium = 2 * 2 * 48 * 1536 * 2 * (1500 + 4 + 1 + 64)
    assert engine.batch_for_memory(40 * 2**30, medium, 100) == 37
    assert engine.batch_for_memory(20 * 2**30, medium, 100) == 18
    assert engine.batch_for_memory(75 * 2**30, medium, 100) == engine.MAX_BATCH  # an idle 80 GB card
    assert engine.batch_for_memory(2**30, medium, 100) == 1  # too little memory still tries one


def test_a_second_round_in_the_process_gets_the_same_auto_batch(tmp_path, monkeypatch):
    """pick's retry rounds render again in the same process with the kept loop: its cache
    from the round before is memory this round can use, not memory in use. The GPU is
    modelled: free memory is what the loop's caches leave of a card sized for 2 takes."""
    from albumgen.models.fast import FastLoop

    take = FastLoop(load_musicgen("tiny", "cpu")).kv_bytes_per_take(50, cfg=True)
    card = int(2.5 * take / engine.GPU_MEMORY_SHARE)

    def free_memory(device):
        (_lm, loop), = engine._loaded.values()
        return card - loop.held_bytes()

    monkeypatch.setattr(engine, "_loaded", {})
    monkeypatch.setattr(engine, "free_memory", free_memory)
    album = build(tmp_path, {"takes": 2})  # 4 takes
    build(tmp_path, {"takes": 3})  # a second round in this process: 2 more
    (_lm, loop), = engine._loaded.values()
    assert loop.held_bytes() > 0.5 * take  # the first round's cache was there to be counted
    sizes = [e["batch_size"] for e in Manifest(album).events() if e["event"] == "render_batch_size"]
    assert sizes == [2, 2]


def test_a_refused_graph_capture_is_an_event_a_warning_and_on_the_progress_line(tmp_path, monkeypatch, caplog):
    """Decoding without graphs is several times slower: a build must say so, not only log
    one warning at capture time. (CPU stand-in graphs; the capture is refused.)"""
    from albumgen.models import fast

    class RefusingLoop(fast.FastLoop):
        def __init__(self, lm):
            super().__init__(lm, bucket=8, graphs=True)

        def _graph(self, st, length, s):
            raise RuntimeError("CUDA error: operation not permitted when stream is capturing")

    monkeypatch.setattr(engine, "_loaded", {})
    monkeypatch.setattr(fast, "FastLoop", RefusingLoop)  # what the transformers backend builds its loop from
    caplog.set_level(logging.INFO, logger="albumgen")
    album = build(tmp_path, {"batch_size": 2})
    off = [e for e in Manifest(album).events() if e["event"] == "render_graphs_off"]
    assert [e["reason"] for e in off] == ["CUDA error: operation not permitted when stream is capturing"]
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("render: CUDA graphs are off (CUDA error: operation not permitted") for m in messages)
    progress = [m for m in messages if m.startswith("render: ") and " takes, " in m]
    assert progress[-1].endswith("ETA 0:00:00 (CUDA graphs off)")


def test_a_set_batch_size_is_a_fixed_shape(tmp_path, monkeypatch, batched):
    """batch_size 3 with 4 takes: the short second batch is padded to 3 takes, so every take
    is computed in the same shape (on CUDA the kernels, and a take's last bits, follow the
    row count); the records say so and the tokens are the batch-of-4 ones."""
    monkeypatch.setattr(engine, "_loaded", {})
    got = takes(build(tmp_path, {"batch_size": 3}))
    assert sorted(got) == TAKES
    assert {rec["batch"] for _, _, rec in got.values()} == {3}
    assert {rec["torch"] for _, _, rec in got.values()} == {torch.__version__}  # what the last bits depend on
    assert not any("gpu" in rec for _, _, rec in got.values())  # named on CUDA only
    for unit, (codes, _, _) in got.items():
        assert np.array_equal(codes, batched[unit][0]), unit
    (_lm, loop), = engine._loaded.values()
    assert [st.batch for st in loop._states.values()] == [3]  # one state: the short batch did not resize it


def test_tail_renders_past_the_duration_within_the_window(tmp_path):
    # 1 s asked + 0.5 s tail = 75 frames at 50 Hz, and the record says which part was asked.
    album = build(tmp_path, {"takes": 1, "duration": 1.0, "tail": 0.5})
    codes, audio, rec = takes(album)["t01/take-1"]
    assert codes.shape == (4, 75) and rec["duration"] == 1.0 and rec["tail"] == 0.5
    from albumgen.stages.render.config import RenderConfig

    # A tail never adds a window: a take that fits one keeps fitting it.
    assert RenderConfig(duration=30, tail=3).seconds == 30 and RenderConfig(duration=28, tail=3).seconds == 30
    assert RenderConfig(duration=40, tail=3).seconds == 43
    assert "tail" not in RenderConfig(duration=30, tail=3).key_fields()  # old takes stay valid


def test_takes_a_changed_setting_renders_again_are_not_counted_as_done(tmp_path):
    """After render.duration changes, every take renders again: the album-wide count says 0/2
    at the start, not 2/4 (the old records of those takes are being replaced, not kept)."""
    from helpers import cli, write_pipeline

    pipeline = write_pipeline(tmp_path, {"album": {"tracks": 1}, "render": {"duration": 1.0}})
    assert cli("build", str(pipeline), "--until", "render").exit_code == 0
    write_pipeline(tmp_path, {"album": {"tracks": 1}, "render": {"duration": 1.5}})
    r = cli("build", str(pipeline), "--until", "render")
    assert r.exit_code == 0, r.output
    lines = [ln for ln in r.output.splitlines() if ln.startswith("render: ") and " takes" in ln]
    assert lines and all("/2 takes" in line for line in lines), r.output
