"""The thin CLI over the library. One module per subcommand; errors become one line."""
from __future__ import annotations

from .. import registry
from . import build, gc, init, repair, review, status  # noqa: F401  (each adds its command to `main`)
from .app import main

__all__ = ["main"]


def _register() -> None:
    # Stages bring their own commands (pick, score, prompts...): the CLI names none of them.
    for stage in registry.stage_classes():
        for command in stage.commands():
            if command.name in main.commands:
                raise RuntimeError(f"stage {stage.name} adds a command {command.name!r} that exists already")
            main.add_command(command)


_register()
