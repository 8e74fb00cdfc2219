"""CLAP that decides, and a CLAP score that is the one for the prompt given.

A tiny random CLAP (support/clap.py) cannot know what "warm pads" sound like,
so "follows the prompt" is held the only way a random model allows: the recorded score is
exactly the cosine between this prompt's text embedding and the take's audio embedding,
computed here through transformers' own ClapModel, and another prompt gives another score.

"Decides": two takes that are the same music at different gains. Every weight-free
feature is gain-invariant (test_pick_invariance), so those z-scores are all 0 and only
CLAP (whose log-mel input moves with gain) separates them. The picker must keep the take
CLAP prefers in either order; without CLAP it would be a tie, and ties go to the first.
"""
from __future__ import annotations

import json

import audio_fixtures as F
import numpy as np
import pytest
import soundfile as sf
import torch
from clap import tiny_clap
from click.testing import CliRunner
from helpers import write_pipeline

from albumgen.audio.signal import resample
from albumgen.cli import main

PROMPT = "warm analog synth pads"
OTHER = "brushed jazz drums"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clap")
    tiny_clap(folder / "clap")
    # Relative, as users write it: resolved from the pipeline's folder, not the working
    # directory (the tests run from the repository root, where no `clap` folder exists).
    pipeline = write_pipeline(folder, {"pick": {"clap_model": "clap"}})
    music = F.music(seconds=3.0)
    files = {"full": music, "quiet": music * 0.25}
    for name, audio in files.items():
        sf.write(folder / f"{name}.wav", audio, F.SR, subtype="FLOAT")
    return folder, pipeline, files


def score(folder, pipeline, names: list[str], prompt: str) -> dict:
    r = CliRunner().invoke(main, ["score", "--json", "--pipeline", str(pipeline), "--prompt", prompt,
                                  *[str(folder / f"{n}.wav") for n in names]])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def expected_clap(folder, audio: np.ndarray, prompt: str) -> float:
    """The documented score: cosine of the prompt's CLAP text embedding and the mean of the
    take's normalised audio embeddings (one 10 s window here: the take is 3 s)."""
    from transformers import ClapModel, ClapProcessor

    model, processor = ClapModel.from_pretrained(folder / "clap").eval(), ClapProcessor.from_pretrained(folder / "clap")
    rate = processor.feature_extractor.sampling_rate
    mono = resample(audio.astype(np.float32), F.SR, rate)  # albumgen's one resampler, as every stage
    with torch.no_grad():
        a = model.get_audio_features(**processor(audio=[mono], sampling_rate=rate, return_tensors="pt"))
        t = model.get_text_features(**processor(text=[prompt], return_tensors="pt", padding=True))
    a, t = (x if hasattr(x, "ndim") else x.pooler_output for x in (a, t))
    a = torch.nn.functional.normalize(a, dim=-1).mean(dim=0)
    return float(torch.nn.functional.cosine_similarity(a, torch.nn.functional.normalize(t, dim=-1)[0], dim=0))


def test_the_clap_score_is_the_prompts_cosine(setup):
    folder, pipeline, files = setup
    for prompt in (PROMPT, OTHER):
        report = score(folder, pipeline, ["full", "quiet"], prompt)
        assert "clap" not in report["skipped"]
        for f in report["files"]:
            name = f["file"].rsplit("/", 1)[-1][:-4]
            assert f["features"]["clap"] == pytest.approx(expected_clap(folder, files[name], prompt), abs=2e-5)
    first = score(folder, pipeline, ["full"], PROMPT)["files"][0]["features"]["clap"]
    other = score(folder, pipeline, ["full"], OTHER)["files"][0]["features"]["clap"]
    assert abs(first - other) > 1e-3  # the score depends on the prompt


def test_clap_decides_between_takes_the_other_scorers_cannot_tell_apart(setup):
    folder, pipeline, _ = setup
    report = score(folder, pipeline, ["full", "quiet"], PROMPT)
    clap = {f["file"]: f["features"]["clap"] for f in report["files"]}
    assert abs(clap[str(folder / "full.wav")] - clap[str(folder / "quiet.wav")]) > 1e-3
    for f in report["files"]:
        assert not f["rejects"] and abs(f["z"]["clap"]) > 0.1
        assert {k: v for k, v in f["z"].items() if k != "clap"} == {k: 0.0 for k in f["z"] if k != "clap"}
    best = max(clap, key=clap.get)
    assert report["picked"] == best
    assert score(folder, pipeline, ["quiet", "full"], PROMPT)["picked"] == best  # in either order


def test_a_prompt_longer_than_clap_positions_is_truncated_not_a_crash(setup):
    """max_chars has no upper bound: a prompt past the text model's positions (64 here, 512 in
    the real CLAP) is scored on its first tokens, as CLAP's own tokenizer would cut it."""
    folder, pipeline, _ = setup
    head = " ".join(["warm analog synth pads"] * 50)  # 200 words: far more than 64 tokens
    clap = score(folder, pipeline, ["full"], head + " warm pads")["files"][0]["features"]["clap"]
    # Past the cut nothing counts: a different tail gives the same score.
    assert clap == score(folder, pipeline, ["full"], head + " brushed jazz drums")["files"][0]["features"]["clap"]
    assert clap != score(folder, pipeline, ["full"], "brushed jazz drums " + head)["files"][0]["features"]["clap"]
