"""The picker as a library: score a group of takes (the takes of one track, or the files
given to `albumgen score`) and say which one to keep. The stage and the CLI are thin
layers over `score_group`."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from albumgen.audio.io import read_audio
from albumgen.errors import AlbumgenError

from . import adherence
from .combine import choose, combine, with_group
from .config import PickConfig
from .features import features
from .learned import LearnedScorers

SCHEMA_VERSION = 1


@dataclass
class GroupResult:
    takes: list[dict]  # per input, in input order: name, features, checks, rejects, warnings, z, score
    choice: int | None  # index into takes; None when nothing could be read
    skipped: dict[str, str] = field(default_factory=dict)  # learned scorer -> why it did not run
    errors: dict[str, str] = field(default_factory=dict)  # name -> why it could not be read

    @property
    def all_rejected(self) -> bool:
        return bool(self.takes) and all(t["rejects"] for t in self.takes)


Loader = Callable[[], tuple[np.ndarray, int]]


def score_group(items: list[tuple[str, Loader]], cfg: PickConfig, prompt: str | None = None,
                learned: LearnedScorers | None = None, joins: dict[str, list[float]] | None = None) -> GroupResult:
    """`items` are (name, loader) pairs; each take is loaded, measured and dropped in turn,
    so a track of many long takes never sits in memory at once. A take that cannot be
    read is reported in `errors` and left out, the rest are still compared. `joins`: per
    name, the seconds where render's windows meet (the seam check looks there)."""
    feats, names, info, errors = [], [], [], {}
    want = adherence.asked(prompt)
    for name, load in items:
        try:
            audio, sr = load()
        except AlbumgenError as e:
            errors[name] = str(e)
            continue
        audio = np.asarray(audio)
        f = features(audio, sr, (joins or {}).get(name))
        kept, heard = adherence.features(audio, sr, want)
        if kept:
            f.update(kept, **({"asked_bpm": want["bpm"]} if want["bpm"] else {}))
        if learned is not None:
            f.update(learned.score(audio if audio.dtype.kind == "f" else audio / 32768.0, sr, prompt))
        feats.append(f)
        names.append(name)
        info.append({"sample_rate": int(sr), "channels": int(audio.shape[1]) if audio.ndim == 2 else 1,
                     **({"asked": want, "heard": heard} if heard else {})})
    feats = with_group(feats, cfg)  # so the report shows dull_db and hiss beside the rest
    scored = combine(feats, cfg) if feats else []
    takes = [{"name": n, **meta, "features": f, **s} for n, meta, f, s in zip(names, info, feats, scored)]
    return GroupResult(takes=takes, choice=choose(scored) if scored else None,
                       skipped=dict(learned.skipped) if learned is not None else {}, errors=errors)


def take_joins(wav: Path) -> list[float]:
    """The window joins render recorded beside a take (take-N.json next to take-N.wav), so
    `albumgen score manifest/takes/t01/take-*.wav` looks for seams as the build does.
    Anything else beside a file (no such file, other JSON) means no joins."""
    try:
        joins = json.loads(wav.with_suffix(".json").read_text("utf-8")).get("joins")
    except (OSError, ValueError, AttributeError):
        return []
    if isinstance(joins, list) and all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in joins):
        return [float(t) for t in joins]
    return []


def score_files(paths: list[Path], cfg: PickConfig | None = None, prompt: str | None = None,
                log=None, base_dir: Path | None = None) -> dict:
    """What `albumgen score --json` prints (docs/configuration.md, pick, documents it). base_dir:
    the pipeline's folder, which relative model paths in cfg are relative to."""
    cfg = cfg or PickConfig()
    learned = LearnedScorers(cfg, base_dir, log=log)
    res = score_group([(str(p), (lambda p=p: read_audio(p))) for p in paths], cfg, prompt, learned,
                      joins={str(p): j for p in paths if (j := take_joins(Path(p)))})
    if not prompt:
        res.skipped.setdefault("clap", "no --prompt given")
    files = []
    for i, t in enumerate(res.takes):
        files.append({"file": t["name"], "sample_rate": t["sample_rate"], "channels": t["channels"],
                      "score": t["score"], "quality": t["quality"], "picked": i == res.choice, "rejects": t["rejects"],
                      "warnings": t["warnings"], "checks": [c["check"] for c in t["checks"]],
                      "features": t["features"], "z": t["z"]})
    return {"schema_version": SCHEMA_VERSION, "prompt": prompt,
            "picked": res.takes[res.choice]["name"] if res.choice is not None else None,
            "all_rejected": res.all_rejected, "files": files,
            "errors": [{"file": k, "error": v} for k, v in res.errors.items()], "skipped": res.skipped}
