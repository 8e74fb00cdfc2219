"""Is render.model on this machine (or reachable)? Asked before a build writes anything.

A hub id is looked up in the local Hugging Face cache and, when the hub may be used
(HF_HUB_OFFLINE unset), on the hub; a folder is checked for its files. An id that is
neither gets the nearest known checkpoint as a suggestion, never a made-up repository.
"""
from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ModelError

if TYPE_CHECKING:
    from .backend import Backend

# The MusicGen checkpoints transformers loads (their hub repositories all exist).
KNOWN = ("facebook/musicgen-small", "facebook/musicgen-medium", "facebook/musicgen-large",
         "facebook/musicgen-melody", "facebook/musicgen-melody-large",
         "facebook/musicgen-stereo-small", "facebook/musicgen-stereo-medium", "facebook/musicgen-stereo-large",
         "facebook/musicgen-stereo-melody", "facebook/musicgen-stereo-melody-large")
TRY_TINY = "or try `render.model: tiny` to test the pipeline"
WEIGHTS = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in ("1", "ON", "YES", "TRUE")


def suggest(model_id: str) -> str | None:
    """The known checkpoint nearest to a mistyped id ("musicgen-small", "facebook/musicgen-tiny")."""
    lowered = model_id.lower()
    if "musicgen" in lowered and not any(w in lowered for w in ("small", "medium", "large", "melody", "stereo")):
        return KNOWN[0]  # a size that does not exist (musicgen-tiny, musicgen-base): the smallest real one
    names = {k: k for k in KNOWN} | {k.split("/", 1)[1]: k for k in KNOWN}
    close = difflib.get_close_matches(lowered, names, n=1, cutoff=0.6)
    return names[close[0]] if close else None


def looks_like_folder(model_id: str, base_dir: Path) -> bool:
    return model_id.startswith((".", "/", "~")) or (base_dir / os.path.expanduser(model_id)).exists() \
        or model_id.count("/") > 1 or "\\" in model_id


def check_model(model_id: str, base_dir: Path, backend: Backend, presets: tuple[str, ...] = ()) -> str:
    """Raise a ModelError naming the fix when `model_id` cannot be loaded here; return how it
    was found ("preset", "folder", "cache", "hub") for the dry run's plan. `backend` says
    which file proves a checkpoint (models.backend, handed in: the backends load through here)."""
    if model_id in presets:
        return "preset"
    if looks_like_folder(model_id, base_dir):
        check_folder(base_dir / os.path.expanduser(model_id), model_id, backend)
        return "folder"
    if _cached(model_id, backend.marker):
        return "cache"
    near = suggest(model_id)
    hint = f"did you mean {near}?" if near and near != model_id else None
    if offline():
        if hint:
            raise ModelError(f"render.model: {model_id} is not a known checkpoint and not in the local cache",
                             f"{hint} {TRY_TINY}")
        raise ModelError(f"render.model: {model_id} is not in the local Hugging Face cache and HF_HUB_OFFLINE=1",
                         f"download it once online (`hf download {model_id}`) or unset HF_HUB_OFFLINE; {TRY_TINY}")
    found = _on_hub(model_id)
    if found is False:
        raise ModelError(f"render.model: {model_id} is not on the Hugging Face hub",
                         hint or f"use one of {', '.join(KNOWN[:3])}, or a local checkpoint folder")
    if isinstance(found, str):  # neither here nor reachable: the download would fail too, after a minute of retries
        raise ModelError(f"render.model: {model_id} is not in the local Hugging Face cache and the hub cannot be "
                         f"reached: {found}",
                         f"connect this machine for its first build (the checkpoint downloads once), or run `hf "
                         f"download {model_id} --local-dir {model_id.rsplit('/', 1)[-1]}` where there is internet, "
                         f"copy that folder here and set render.model to its path; {TRY_TINY}")
    return "hub"


def check_folder(folder: Path, model_id: str, backend: Backend) -> None:
    if not folder.is_dir():
        raise ModelError(f"render.model: folder {model_id} does not exist (looked in {folder.parent})",
                         "point it at a saved checkpoint folder (relative to the pipeline file), or use a hub id "
                         "such as facebook/musicgen-small")
    names = {p.name for p in folder.iterdir()}
    if backend.weights_in_folder:
        missing = [] if backend.marker in names else [backend.marker]
        if not any(n.endswith(WEIGHTS) for n in names):
            missing.append("weights (*.safetensors)")
        if missing:
            raise ModelError(f"render.model: folder {model_id} has no {' and no '.join(missing)}",
                             "save a checkpoint there with model.save_pretrained() and tokenizer.save_pretrained()")
    elif not names:
        raise ModelError(f"render.model: folder {model_id} is empty", "point it at a saved checkpoint folder")


def _cached(model_id: str, marker: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(model_id, marker), str)
    except Exception:  # an id the hub library refuses (bad characters): not cached
        return False


def _on_hub(model_id: str) -> bool | str:
    """True: the hub has it; False: it does not; a string: why the hub could not be asked
    (no network, a proxy, a timeout)."""
    from huggingface_hub import HfApi
    from huggingface_hub.utils import GatedRepoError, HFValidationError, RepositoryNotFoundError

    try:
        HfApi().model_info(model_id, timeout=10)
        return True
    except GatedRepoError:
        return True  # it exists; the download says how to get access
    except (RepositoryNotFoundError, HFValidationError):
        return False
    except Exception as e:  # no network, a proxy, a timeout: not the user's config
        cause = e
        while cause.__context__ is not None and not str(cause).strip():
            cause = cause.__context__
        first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        return first if len(first) <= 120 else first[:117] + "..."


def takes_melody(model_id: str, base_dir: Path, presets: tuple[str, ...] = ()) -> bool | None:
    """Whether render.model is a melody checkpoint, known without loading it: a preset or a
    known checkpoint by its name, a transformers folder or cached hub id by its config.json.
    None where only loading tells (an AudioCraft folder, an id nothing here describes)."""
    import json

    if model_id in presets or model_id in KNOWN:
        return "melody" in model_id
    if looks_like_folder(model_id, base_dir):
        config: Path | str | None = base_dir / os.path.expanduser(model_id) / "config.json"
    else:
        from huggingface_hub import try_to_load_from_cache

        try:
            config = try_to_load_from_cache(model_id, "config.json")
        except Exception:  # an id the hub library refuses: the model check says so
            return None
    if not isinstance(config, (str, Path)) or not Path(config).is_file():
        return None
    try:
        model_type = json.loads(Path(config).read_text("utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError):
        return None  # loading says what is wrong with it
    return model_type == "musicgen_melody" if isinstance(model_type, str) and model_type.startswith("musicgen") \
        else None
