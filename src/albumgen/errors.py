"""One error family. The CLI turns each into `Error: <what> (<how to fix>)` and an exit code.

Exit codes are distinct per family so scripts running albumgen overnight can tell a bad
config (fix the file) from a busy album (wait) from a model that is not on the machine.
"""
from __future__ import annotations


class AlbumgenError(Exception):
    exit_code = 1

    def __init__(self, what: str, fix: str | None = None):
        super().__init__(what)
        self.what = what
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.what} ({self.fix})" if self.fix else self.what

    def __reduce__(self):
        # Raised in a worker process, re-raised in the driver: keep the fix across pickling.
        return (self.__class__, (self.what, self.fix))


class ConfigError(AlbumgenError):
    """pipeline.yaml is unreadable or invalid."""

    exit_code = 2


class InputError(AlbumgenError):
    """A file the pipeline points at is missing, cannot be parsed, or holds too little (a
    prompts file with fewer usable prompts than album.tracks)."""

    exit_code = 3


class LockError(AlbumgenError):
    """Another build holds the album."""

    exit_code = 4


class ModelError(AlbumgenError):
    """A model cannot be loaded (offline and not cached, bad folder, ...)."""

    exit_code = 5


class LLMError(AlbumgenError):
    """The LLM server refused, timed out or never gave a usable reply."""

    exit_code = 6


class OutputError(AlbumgenError):
    """The album folder cannot be written."""

    exit_code = 7


class StageError(AlbumgenError):
    """A stage cannot go on with what it was given (e.g. too few of an LLM's prompts survived cleaning)."""

    exit_code = 8
