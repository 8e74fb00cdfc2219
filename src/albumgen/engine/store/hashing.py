"""Canonical JSON and sha256: the vocabulary of unit keys and output checks."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def canonical_json(obj: Any) -> str:
    # sort_keys + fixed separators: the same value always gives the same bytes, so keys are
    # stable across runs, machines and dict insertion orders.
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default)


def _default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON-serialisable in a unit key: {type(obj).__name__}")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    return sha256_bytes(text.encode("utf-8"))


def sha256_json(obj: Any) -> str:
    return sha256_text(canonical_json(obj))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def unit_key(stage: str, version: str, config: dict, inputs: dict) -> str:
    """The sha256 that names one unit of work (DESIGN.md, stage contract, step 1)."""
    return sha256_json({"stage": stage, "version": version, "config": config, "inputs": inputs})


def derive_seed(*parts: Any) -> int:
    """A 63-bit seed from any parts; stable across Python versions (unlike hash())."""
    return int(sha256_json(list(parts))[:16], 16) & ((1 << 63) - 1)
