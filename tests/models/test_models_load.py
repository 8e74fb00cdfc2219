"""Loading checkpoints: a local folder written from the tiny model, and the clear errors."""
from __future__ import annotations

import pytest
import torch

from albumgen.errors import ModelError
from albumgen.models.fast import FastLoop
from albumgen.models.musicgen import load_musicgen, pick_dtype
from albumgen.models.sampling import Sampling
from albumgen.models.tiny import build_tiny, byte_tokenizer


def test_local_checkpoint_folder_loads_and_renders_like_the_preset(tmp_path):
    folder = tmp_path / "my-musicgen"
    build_tiny().save_pretrained(folder)
    byte_tokenizer().save_pretrained(folder)
    lm = load_musicgen(str(folder), "cpu")
    assert lm.model_id == str(folder)
    assert lm.revision.startswith("folder:") and len(lm.revision) == len("folder:") + 16
    assert (lm.channels, lm.num_codebooks, lm.frame_rate, lm.sample_rate) == (1, 4, 50, 32000)
    assert lm.dtype == torch.float32 and lm.device == "cpu"
    tiny = load_musicgen("tiny", "cpu")
    greedy = Sampling(greedy=True)
    got = FastLoop(lm).generate(["calm piano"], [1], 20, greedy)
    assert torch.equal(got, FastLoop(tiny).generate(["calm piano"], [1], 20, greedy))
    assert load_musicgen(str(folder), "cpu").revision == lm.revision  # stable identity for the take records


def test_offline_and_not_cached_names_the_model_and_the_way_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError) as e:
        load_musicgen("facebook/musicgen-small", "cpu")
    assert str(e.value) == ("render.model: facebook/musicgen-small is not in the local cache (on a machine with "
                            "internet run `hf download facebook/musicgen-small --local-dir musicgen-small`, copy "
                            "that folder here and set render.model to its path; or try `render.model: tiny` to "
                            "test the pipeline)")
    assert e.value.exit_code == 5


def test_a_checkpoint_that_does_not_exist_gets_the_nearest_real_one_not_a_download(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for wrong in ("facebook/musicgen-tiny", "musicgen-small"):
        with pytest.raises(ModelError) as e:
            load_musicgen(wrong, "cpu")
        assert "did you mean facebook/musicgen-small?" in str(e.value), str(e.value)
        assert "hf download" not in str(e.value)  # the old advice named repositories that do not exist


def test_missing_and_wrong_folders_are_model_errors(tmp_path):
    with pytest.raises(ModelError, match=r"^render.model: folder /no/such/ckpt does not exist"):
        load_musicgen("/no/such/ckpt", "cpu")
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    with pytest.raises(ModelError, match=r"is not a MusicGen checkpoint folder"):
        load_musicgen(str(tmp_path), "cpu")


def test_dtype_auto_is_fp32_on_cpu_and_explicit_names_map():
    assert pick_dtype("cpu") == torch.float32
    assert pick_dtype("mps") == torch.float16
    assert pick_dtype("cpu", "bfloat16") == torch.bfloat16 and pick_dtype("cuda", "float16") == torch.float16
