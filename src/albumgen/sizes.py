"""Amounts in the words of a message: bytes as a person reads them, counts with their noun."""
from __future__ import annotations

MB = 1024 * 1024


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """"1 take", "0 takes", "3 takes"; `plural` where adding an s is wrong ("1 reply", "2 replies")."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def human_size(n: float) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return counted(round(n), "byte") if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"  # pragma: no cover
